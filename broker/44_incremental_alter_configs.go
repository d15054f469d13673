package broker

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/log"
)

// IncrementalAlterConfigs: v0-v1. For a topic resource: SET sets a key,
// DELETE removes it (it then takes the broker default or the built-in
// one), APPEND and SUBTRACT add values to or remove them from a list
// config (cleanup.policy, the only one runnel has), starting from the value
// in force, as Kafka does. Every key must be a topic config runnel knows
// (INVALID_CONFIG otherwise, where Kafka would also accept configs runnel
// does not implement); APPEND or SUBTRACT on a non-list config is
// INVALID_CONFIG; a null value for SET, APPEND or SUBTRACT is
// INVALID_CONFIG; a key given twice, an unknown operation or a resource
// named twice is INVALID_REQUEST. The result is validated whole and
// nothing changes on error. validate_only runs every check and changes
// nothing. Broker resources: as AlterConfigs (no dynamic broker configs).

func init() { regKey(kmsg.IncrementalAlterConfigs, 0, 1, handleIncrementalAlterConfigs) }

func handleIncrementalAlterConfigs(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	dup := duplicates(req.Resources, func(r kmsg.IncrementalAlterConfigsRequestResource) configResource {
		return configResource{r.ResourceType, r.ResourceName}
	})
	for _, rr := range req.Resources {
		r := kmsg.NewIncrementalAlterConfigsResponseResource()
		r.ResourceType, r.ResourceName = rr.ResourceType, rr.ResourceName
		r.ErrorCode, r.ErrorMessage = alterResource(b, "incremental alter configs", rr.ResourceType, rr.ResourceName,
			dup[configResource{rr.ResourceType, rr.ResourceName}], len(rr.Configs),
			func() error { return incrementalTopicConfigs(b, rr, req.ValidateOnly) })
		resp.Resources = append(resp.Resources, r)
	}
	return resp
}

// listConfigs are the topic configs whose values are comma-separated
// lists, which APPEND and SUBTRACT apply to.
var listConfigs = []string{"cleanup.policy"}

func incrementalTopicConfigs(b *Broker, rr kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) error {
	set := map[string]string{}
	var del []string
	seen := map[string]bool{}
	var current map[string]string // the values in force, read when needed
	for _, c := range rr.Configs {
		if seen[c.Name] {
			return apiErrorf(kerr.InvalidRequest, "config %q is given more than once", c.Name)
		}
		seen[c.Name] = true
		if !slices.Contains(log.ConfigKeys, c.Name) {
			return apiErrorf(kerr.InvalidConfig, "unknown topic config %q; runnel's topic configs are %s", c.Name, strings.Join(log.ConfigKeys, ", "))
		}
		op := c.Op
		if op != kmsg.IncrementalAlterConfigOpDelete && c.Value == nil {
			return apiErrorf(kerr.InvalidConfig, "config %q: %s needs a value, the request has null", c.Name, opName(op))
		}
		switch op {
		case kmsg.IncrementalAlterConfigOpSet:
			set[c.Name] = *c.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			del = append(del, c.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if !slices.Contains(listConfigs, c.Name) {
				return apiErrorf(kerr.InvalidConfig, "config %q is not a list: %s applies only to %s", c.Name, opName(op), strings.Join(listConfigs, ", "))
			}
			if current == nil {
				configs, err := topicConfigs(b, rr.ResourceName)
				if err != nil {
					return err
				}
				current = map[string]string{}
				for _, ci := range configs {
					current[ci.name] = ci.value
				}
			}
			set[c.Name] = applyListOp(current[c.Name], *c.Value, op == kmsg.IncrementalAlterConfigOpAppend)
		default:
			return apiErrorf(kerr.InvalidRequest, "config %q: unknown operation %d; want SET (0), DELETE (1), APPEND (2) or SUBTRACT (3)", c.Name, int8(op))
		}
	}
	return alterTopicConfigs(b, rr.ResourceName, set, del, validateOnly)
}

// applyListOp appends the comma-separated values of arg that old lacks, or
// removes them from old, as Kafka does for list configs.
func applyListOp(old, arg string, add bool) string {
	split := func(s string) []string {
		var out []string
		for _, v := range strings.Split(s, ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	vals := split(old)
	for _, v := range split(arg) {
		switch {
		case add && !slices.Contains(vals, v):
			vals = append(vals, v)
		case !add:
			vals = slices.DeleteFunc(vals, func(x string) bool { return x == v })
		}
	}
	return strings.Join(vals, ",")
}

func opName(op kmsg.IncrementalAlterConfigOp) string {
	switch op {
	case kmsg.IncrementalAlterConfigOpSet:
		return "SET"
	case kmsg.IncrementalAlterConfigOpDelete:
		return "DELETE"
	case kmsg.IncrementalAlterConfigOpAppend:
		return "APPEND"
	case kmsg.IncrementalAlterConfigOpSubtract:
		return "SUBTRACT"
	}
	return "operation " + op.String()
}
