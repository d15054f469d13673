package broker

import (
	"errors"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/log"
	"github.com/runnel-io/runnel/broker/store"
)

// AlterConfigs: v0-v2. As in Kafka, the configs of a topic resource replace
// the topic's whole config set: a key left out goes back to the broker
// default or the built-in one. The new set is validated whole (unknown
// keys, bad values: INVALID_CONFIG, every problem in the message) and
// nothing changes on error; it is persisted, then applied to the open
// logs. A null value is INVALID_CONFIG, as in Kafka's KRaft mode; a key
// given twice or a resource named twice is INVALID_REQUEST. validate_only
// runs every check and changes nothing.
//
// runnel has no dynamic broker configs: a broker resource (this node's id,
// or empty) with no configs succeeds, one with configs is INVALID_REQUEST
// (restart `runnel broker` with other flags instead). Other resource types
// are INVALID_REQUEST.

func init() { regKey(kmsg.AlterConfigs, 0, 2, handleAlterConfigs) }

func handleAlterConfigs(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	dup := duplicates(req.Resources, func(r kmsg.AlterConfigsRequestResource) configResource {
		return configResource{r.ResourceType, r.ResourceName}
	})
	for _, rr := range req.Resources {
		r := kmsg.NewAlterConfigsResponseResource()
		r.ResourceType, r.ResourceName = rr.ResourceType, rr.ResourceName
		r.ErrorCode, r.ErrorMessage = alterResource(b, "alter configs", rr.ResourceType, rr.ResourceName,
			dup[configResource{rr.ResourceType, rr.ResourceName}], len(rr.Configs),
			func() error { return replaceTopicConfigs(b, rr, req.ValidateOnly) })
		resp.Resources = append(resp.Resources, r)
	}
	return resp
}

// alterResource answers one resource of AlterConfigs or
// IncrementalAlterConfigs: a resource named twice, a topic (altered by
// alterTopic), a broker (which has no dynamic configs) or another type.
func alterResource(b *Broker, api string, rt kmsg.ConfigResourceType, name string, dup bool, configs int, alterTopic func() error) (int16, *string) {
	var err error
	switch {
	case dup:
		err = errDuplicateResource
	case rt == kmsg.ConfigResourceTypeTopic:
		err = alterTopic()
	case rt == kmsg.ConfigResourceTypeBroker:
		err = alterBrokerConfigs(b, name, configs)
	default:
		err = unsupportedResource(rt)
	}
	code := errorCode(err)
	if err != nil && code == kerr.UnknownServerError.Code {
		b.log.Warn(api, "resource", name, "err", err)
	}
	return code, errorMessage(err)
}

func replaceTopicConfigs(b *Broker, rr kmsg.AlterConfigsRequestResource, validateOnly bool) error {
	set := map[string]string{}
	for _, c := range rr.Configs {
		if _, ok := set[c.Name]; ok {
			return apiErrorf(kerr.InvalidRequest, "config %q is given more than once", c.Name)
		}
		if c.Value == nil {
			return apiErrorf(kerr.InvalidConfig, "config %q has a null value; leave it out to use the default", c.Name)
		}
		set[c.Name] = *c.Value
	}
	var del []string
	for _, k := range log.ConfigKeys {
		if _, ok := set[k]; !ok {
			del = append(del, k)
		}
	}
	return alterTopicConfigs(b, rr.ResourceName, set, del, validateOnly)
}

// alterTopicConfigs changes the configs of a topic as store.SetTopicConfig
// does (set the keys of set, remove those of del), or with validateOnly
// checks that it would succeed.
func alterTopicConfigs(b *Broker, name string, set map[string]string, del []string, validateOnly bool) error {
	if err := store.ValidateTopicName(name); err != nil {
		return err
	}
	if !validateOnly {
		return b.store.SetTopicConfig(name, set, del)
	}
	d, err := b.store.Topic(name)
	if err != nil {
		return err
	}
	for _, k := range del {
		if !slices.Contains(log.ConfigKeys, k) {
			return apiErrorf(kerr.InvalidConfig, "cannot delete unknown topic config %q", k)
		}
	}
	configs := map[string]string{}
	for _, c := range d.Configs {
		if c.Source == store.SourceTopic && !slices.Contains(del, c.Name) {
			configs[c.Name] = c.Value
		}
	}
	for k, v := range set {
		configs[k] = v
	}
	// ValidateTopic checks the configs the way SetTopicConfig does, then
	// answers ErrTopicExists for a topic that exists: the configs are valid.
	_, err = b.store.ValidateTopic(name, store.DefaultPartitions, configs)
	if err == nil || errors.Is(err, store.ErrTopicExists) {
		return nil
	}
	return err
}

// alterBrokerConfigs refuses to change broker configs, which are static in
// runnel; n is how many the request changes.
func alterBrokerConfigs(b *Broker, name string, n int) error {
	if id := strconv.Itoa(int(b.store.NodeID())); name != "" && name != id {
		return apiErrorf(kerr.InvalidRequest, "unexpected broker id %q: this is broker %s (or use the empty name for cluster-wide defaults)", name, id)
	}
	if n > 0 {
		return apiErrorf(kerr.InvalidRequest, "runnel's broker configs cannot change while it runs: restart `runnel broker` with other flags")
	}
	return nil
}

// configResource identifies a resource of the config requests.
type configResource struct {
	typ  kmsg.ConfigResourceType
	name string
}

var errDuplicateResource = apiErrorf(kerr.InvalidRequest, "the resource is named more than once in the request")

// duplicates returns the keys that occur more than once in xs.
func duplicates[T any, K comparable](xs []T, key func(T) K) map[K]bool {
	seen := map[K]bool{}
	dup := map[K]bool{}
	for _, x := range xs {
		k := key(x)
		if seen[k] {
			dup[k] = true
		}
		seen[k] = true
	}
	return dup
}
