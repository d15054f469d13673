package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersions: v0-v4. Advertises exactly the versions registered by the
// handlers. A request for a version above 4 gets UNSUPPORTED_VERSION with
// a v0 body listing the versions, as Kafka answers (clients then retry
// with a version they share with the broker).

func init() { regKey(kmsg.ApiVersions, 0, 4, handleApiVersions) }

func handleApiVersions(_ *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = supportedAPIs()
	return resp
}

// supportedAPIs lists the registered handlers.
func supportedAPIs() []kmsg.ApiVersionsResponseApiKey {
	var keys []kmsg.ApiVersionsResponseApiKey
	for key, h := range handlers {
		if h != nil {
			keys = append(keys, kmsg.ApiVersionsResponseApiKey{ApiKey: int16(key), MinVersion: h.min, MaxVersion: h.max})
		}
	}
	return keys
}

// unsupportedVersionsResponse answers an ApiVersions request whose version
// the broker does not know.
func unsupportedVersionsResponse() kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = supportedAPIs()
	return resp
}
