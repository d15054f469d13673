package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The client commands (topic, produce, consume) talk to runnel or to any
// Kafka cluster through franz-go.

const (
	defaultBootstrap = "localhost:9092"
	bootstrapUsage   = "host:port of a broker to start from, runnel or Kafka (comma-separate several)"
	// connectTimeout bounds the first request, which tells an unreachable
	// broker apart from a slow one.
	connectTimeout = 10 * time.Second
)

// addBootstrapFlag adds --bootstrap/-b to cmd's persistent flags, so that
// subcommands have it too.
func addBootstrapFlag(cmd *cobra.Command, bootstrap *string) {
	cmd.PersistentFlags().StringVarP(bootstrap, "bootstrap", "b", defaultBootstrap, bootstrapUsage)
}

// connect returns a client of the brokers in bootstrap that has answered a
// request already, so that an unreachable broker fails at once and says
// so. The caller closes the client.
func connect(ctx context.Context, bootstrap string, opts ...kgo.Opt) (*kgo.Client, error) {
	var seeds []string
	for _, s := range strings.Split(bootstrap, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 {
		return nil, errors.New("--bootstrap is empty: give the host:port of a broker")
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("runnel-cli"),
		kgo.DialTimeout(5 * time.Second),
	}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("--bootstrap %q: %w", bootstrap, err)
	}
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		return nil, unreachable(bootstrap, err)
	}
	return cl, nil
}

// unreachable explains why no broker of bootstrap answered.
func unreachable(bootstrap string, err error) error {
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		hint := "start one with: runnel broker"
		if bootstrap != defaultBootstrap && !strings.Contains(bootstrap, ",") {
			hint = "start one with: runnel broker --listen " + bootstrap
		}
		return fmt.Errorf("cannot reach a Kafka broker at %s: nothing is listening there (connection refused); %s, or point --bootstrap at a running broker", bootstrap, hint)
	case errors.As(err, &dns):
		return fmt.Errorf("cannot reach a Kafka broker at %s: unknown host %q", bootstrap, dns.Name)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("no answer from a Kafka broker at %s within %v: is the address right, and is it a Kafka broker?", bootstrap, connectTimeout)
	case errors.Is(err, context.Canceled):
		return err
	}
	return fmt.Errorf("cannot reach a Kafka broker at %s: %w", bootstrap, err)
}

// topicError turns the error of doing something (a verb: "create",
// "describe") to a topic into a sentence; msg is the broker's error
// message, if any.
func topicError(verb, topic, bootstrap string, err error, msg string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return unknownTopic(topic, bootstrap)
	case errors.Is(err, kerr.TopicAlreadyExists):
		return fmt.Errorf("topic %q already exists", topic)
	}
	return fmt.Errorf("cannot %s topic %q: %s", verb, topic, brokerSays(err, msg))
}

func unknownTopic(topic, bootstrap string) error {
	flag := ""
	if bootstrap != defaultBootstrap {
		flag = " --bootstrap " + bootstrap
	}
	return fmt.Errorf("topic %q does not exist (create it with: runnel topic create %s%s)", topic, topic, flag)
}

// brokerSays is the broker's message for a Kafka error with its code, or
// the code's description when the broker sent none.
func brokerSays(err error, msg string) string {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return err.Error()
	}
	if msg == "" {
		return fmt.Sprintf("%s (%s)", ke.Description, ke.Message)
	}
	return fmt.Sprintf("%s (%s)", msg, ke.Message)
}

// keyValues parses "key=value" flags; what names the flag in errors.
func keyValues(what string, kvs []string) ([][2]string, error) {
	var out [][2]string
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want key=value", what, kv)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// counted is "1 record", "2 records".
func counted(n int64, one, many string) string {
	return fmt.Sprintf("%d %s", n, plural(n, one, many))
}
