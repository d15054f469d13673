package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handlerFunc serves one decoded request. It returns the response, or nil
// when the protocol says none is sent (Produce with acks=0).
type handlerFunc func(b *Broker, c *clientConn, req kmsg.Request) kmsg.Response

type handler struct {
	min, max int16
	fn       handlerFunc
}

// handlers is indexed by API key; filled by regKey in each NN_*.go init.
var handlers [128]*handler

// regKey registers the versions [min, max] of an API. ApiVersions
// advertises exactly what is registered.
func regKey(key kmsg.Key, min, max int16, fn handlerFunc) {
	if handlers[key] != nil {
		panic("broker: API registered twice: " + kmsg.NameForKey(int16(key)))
	}
	handlers[key] = &handler{min: min, max: max, fn: fn}
}

func handlerFor(key int16) *handler {
	if key < 0 || int(key) >= len(handlers) {
		return nil
	}
	return handlers[key]
}
