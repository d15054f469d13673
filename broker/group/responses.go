package group

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrorResponse answers req, a request of one of the group APIs, with code
// everywhere the API carries an error: at the top level, per group, or per
// partition as the version has it (OffsetFetch v0-v1 and OffsetCommit per
// partition, OffsetFetch v8 per group). A JoinGroup answer echoes the
// member id. For other requests it returns req's empty response.
func ErrorResponse(req kmsg.Request, code int16) kmsg.Response {
	resp := req.ResponseKind()
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		out := resp.(*kmsg.JoinGroupResponse)
		out.ErrorCode, out.MemberID = code, r.MemberID
	case *kmsg.SyncGroupRequest:
		resp.(*kmsg.SyncGroupResponse).ErrorCode = code
	case *kmsg.HeartbeatRequest:
		resp.(*kmsg.HeartbeatResponse).ErrorCode = code
	case *kmsg.LeaveGroupRequest:
		resp.(*kmsg.LeaveGroupResponse).ErrorCode = code
	case *kmsg.OffsetCommitRequest:
		out := resp.(*kmsg.OffsetCommitResponse)
		for _, rt := range r.Topics {
			ot := kmsg.NewOffsetCommitResponseTopic()
			ot.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				op := kmsg.NewOffsetCommitResponseTopicPartition()
				op.Partition, op.ErrorCode = rp.Partition, code
				ot.Partitions = append(ot.Partitions, op)
			}
			out.Topics = append(out.Topics, ot)
		}
	case *kmsg.OffsetFetchRequest:
		out := resp.(*kmsg.OffsetFetchResponse)
		switch {
		case r.Version >= 8:
			for _, rg := range r.Groups {
				og := kmsg.NewOffsetFetchResponseGroup()
				og.Group, og.ErrorCode = rg.Group, code
				out.Groups = append(out.Groups, og)
			}
		case r.Version >= 2:
			out.ErrorCode = code
		default:
			for _, rt := range r.Topics {
				ot := kmsg.NewOffsetFetchResponseTopic()
				ot.Topic = rt.Topic
				for _, p := range rt.Partitions {
					op := kmsg.NewOffsetFetchResponseTopicPartition()
					op.Partition, op.Offset, op.ErrorCode = p, -1, code
					empty := ""
					op.Metadata = &empty
					ot.Partitions = append(ot.Partitions, op)
				}
				out.Topics = append(out.Topics, ot)
			}
		}
	case *kmsg.TxnOffsetCommitRequest:
		out := resp.(*kmsg.TxnOffsetCommitResponse)
		for _, rt := range r.Topics {
			ot := kmsg.NewTxnOffsetCommitResponseTopic()
			ot.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				op := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				op.Partition, op.ErrorCode = rp.Partition, code
				ot.Partitions = append(ot.Partitions, op)
			}
			out.Topics = append(out.Topics, ot)
		}
	case *kmsg.DescribeGroupsRequest:
		out := resp.(*kmsg.DescribeGroupsResponse)
		for _, g := range r.Groups {
			d := kmsg.NewDescribeGroupsResponseGroup()
			d.Group, d.ErrorCode = g, code
			out.Groups = append(out.Groups, d)
		}
	case *kmsg.ListGroupsRequest:
		resp.(*kmsg.ListGroupsResponse).ErrorCode = code
	case *kmsg.DeleteGroupsRequest:
		out := resp.(*kmsg.DeleteGroupsResponse)
		for _, g := range r.Groups {
			d := kmsg.NewDeleteGroupsResponseGroup()
			d.Group, d.ErrorCode = g, code
			out.Groups = append(out.Groups, d)
		}
	case *kmsg.OffsetDeleteRequest:
		resp.(*kmsg.OffsetDeleteResponse).ErrorCode = code
	}
	return resp
}
