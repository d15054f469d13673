package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeCluster: v0-v2. One broker, which is also the controller. Kafka
// brokers answer the controllers endpoint type (2, v1+) with
// UNSUPPORTED_ENDPOINT_TYPE, since controllers listen elsewhere; runnel's
// single node is its own controller on the same listener, so both endpoint
// types describe it. Other endpoint types are UNSUPPORTED_ENDPOINT_TYPE.
// Fenced brokers (v2) never exist. There is no authorizer: requested
// cluster authorized operations are all of the cluster's, as in Kafka
// without one.

func init() { regKey(kmsg.DescribeCluster, 0, 2, handleDescribeCluster) }

// clusterOperations are the ACL operations on the CLUSTER resource.
var clusterOperations = []kmsg.ACLOperation{
	kmsg.ACLOperationCreate, kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe,
	kmsg.ACLOperationClusterAction, kmsg.ACLOperationDescribeConfigs,
	kmsg.ACLOperationAlterConfigs, kmsg.ACLOperationIdempotentWrite,
}

func handleDescribeCluster(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = req.EndpointType
	if req.Version >= 1 && req.EndpointType != 1 && req.EndpointType != 2 {
		err := apiErrorf(kerr.UnsupportedEndpointType, "endpoint type %d: want 1 (brokers) or 2 (controllers)", req.EndpointType)
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
		return resp
	}
	nodeID := b.store.NodeID()
	resp.ClusterID = b.store.ClusterID().String()
	resp.ControllerID = nodeID
	host, port := b.hostPort()
	br := kmsg.NewDescribeClusterResponseBroker()
	br.NodeID, br.Host, br.Port = nodeID, host, port
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{br}
	if req.IncludeClusterAuthorizedOperations {
		var ops int32
		for _, op := range clusterOperations {
			ops |= 1 << op
		}
		resp.ClusterAuthorizedOperations = ops
	}
	return resp
}
