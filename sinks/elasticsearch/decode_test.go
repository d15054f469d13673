package elasticsearch

import (
	"encoding/json"
	"strings"
	"testing"
)

var bulkResponses = []string{
	`{"took":3,"errors":false,"items":[{"index":{"_index":"a","_id":"k","_version":4,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":7,"_primary_term":1,"status":201}}]}`,
	`{"errors":true,"took":30,"items":[
	  {"index":{"_index":"a","_id":"k\"1\\","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[k]: version conflict, current version [10] is higher or equal to the one provided [6]","index_uuid":"x","shard":"0","index":"a"}}},
	  {"delete":{"_index":"a","_id":"gone","_version":3,"result":"not_found","status":404,"_seq_no":8,"_primary_term":1}},
	  {"create":{"_index":"a","_id":"n","status":400,"error":{"type":"document_parsing_exception","reason":"[1:6] failed to parse field [n] of type [long]","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"abc\""}}}},
	  {"update":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected \u00e9x","nested":[1,{"a":null},true,-2.5e3]}}}
	]}`,
	`{"took":0,"errors":false,"items":[]}`,
	`{"items":[{"index":{"status":201,"Status":500}}]}`, // case folding: encoding/json's
	`{"took":1,"errors":false}`,
}

func TestDecodeBulkResponse(t *testing.T) {
	t.Parallel()
	for _, resp := range bulkResponses {
		var want bulkResponse
		requireNoError(t, json.Unmarshal([]byte(resp), &want))
		var got bulkResponse
		if err := decodeBulkResponse([]byte(resp), &got, false); err == nil {
			requireSameResponse(t, resp, &got, &want, false)
		}
		// Through the reader, sharing, fallback included.
		got = bulkResponse{}
		requireNoError(t, decodeBulk(stringsReader(resp), &got))
		requireSameResponse(t, resp, &got, &want, true)
	}
	var blk bulkResponse
	if err := decodeBulkResponse([]byte(bulkResponses[3]), &blk, false); err == nil {
		t.Fatal("decoded a response with a case-folded key, want encoding/json to")
	}
}

// requireSameResponse compares the fields bulkDecoder decodes; with
// shared, successful items only by status.
func requireSameResponse(t testing.TB, in string, got, want *bulkResponse, shared bool) {
	t.Helper()
	if got.Took != want.Took || got.HasErrors != want.HasErrors || len(got.Items) != len(want.Items) {
		t.Fatalf("%s:\ndecoded %+v\nwant    %+v", in, got, want)
	}
	for i := range want.Items {
		if len(got.Items[i]) != len(want.Items[i]) {
			t.Fatalf("%s: item %d: %v, want %v", in, i, got.Items[i], want.Items[i])
		}
		for action, w := range want.Items[i] {
			g, ok := got.Items[i][action]
			if shared && ok && g.Error.Type == "" && (g.Status == 200 || g.Status == 201) {
				w = bulkItemResult{Status: w.Status}
			}
			if !ok || g.Status != w.Status || g.Error != w.Error {
				t.Fatalf("%s: item %d: %+v, want %+v", in, i, got.Items[i], want.Items[i])
			}
		}
	}
}

// FuzzDecodeBulkResponse checks that what the scanner decodes is what
// encoding/json decodes, whenever both accept the input.
func FuzzDecodeBulkResponse(f *testing.F) {
	for _, r := range bulkResponses {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var got bulkResponse
		if decodeBulkResponse([]byte(in), &got, false) != nil {
			return
		}
		var want bulkResponse
		if json.Unmarshal([]byte(in), &want) != nil {
			return
		}
		requireSameResponse(t, in, &got, &want, false)
	})
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
