package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FindCoordinator: v0-v4. This broker coordinates every group (key type 0)
// and every transactional id (key type 1); other key types get
// INVALID_REQUEST. v4 asks for a batch of keys. The answer does not wait
// for the coordinator to finish loading: the group APIs answer
// COORDINATOR_LOAD_IN_PROGRESS meanwhile, as Kafka's do.
//
// Differences from Kafka: __consumer_offsets is created by the first write
// of the group coordinator, not by the first FindCoordinator.

func init() { regKey(kmsg.FindCoordinator, 0, 4, handleFindCoordinator) }

func handleFindCoordinator(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	nodeID := b.store.NodeID()
	host, port := b.hostPort()
	var err error
	if req.CoordinatorType != 0 && req.CoordinatorType != 1 {
		err = fmt.Errorf("%w: coordinator key type %d: want 0 (group) or 1 (transaction)", kerr.InvalidRequest, req.CoordinatorType)
	}
	if req.Version >= 4 {
		for _, key := range req.CoordinatorKeys {
			co := kmsg.NewFindCoordinatorResponseCoordinator()
			co.Key = key
			if err != nil {
				co.ErrorCode, co.ErrorMessage, co.NodeID, co.Port = errorCode(err), errorMessage(err), -1, -1
			} else {
				co.NodeID, co.Host, co.Port = nodeID, host, port
			}
			resp.Coordinators = append(resp.Coordinators, co)
		}
		return resp
	}
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage, resp.NodeID, resp.Port = errorCode(err), errorMessage(err), -1, -1
		return resp
	}
	resp.NodeID, resp.Host, resp.Port = nodeID, host, port
	return resp
}
