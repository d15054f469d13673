package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newTopicCmd() *cobra.Command {
	var bootstrap string
	cmd := &cobra.Command{
		Use:   "topic",
		Short: "Create, list, describe, alter and delete topics (runnel or any Kafka cluster)",
	}
	addBootstrapFlag(cmd, &bootstrap)
	subcommandsOnly(cmd)
	cmd.AddCommand(newTopicCreateCmd(&bootstrap), newTopicListCmd(&bootstrap), newTopicDescribeCmd(&bootstrap),
		newTopicAlterCmd(&bootstrap), newTopicDeleteCmd(&bootstrap))
	return cmd
}

// oneTopic is a cobra.Args for commands that take a topic name.
func oneTopic(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%s takes one topic name, got %d arguments\nRun '%s --help' for usage.", cmd.CommandPath(), len(args), cmd.CommandPath())
	}
	return nil
}

// withAdmin connects to bootstrap and runs fn with an admin client.
func withAdmin(ctx context.Context, bootstrap string, fn func(*kadm.Client) error) error {
	cl, err := connect(ctx, bootstrap)
	if err != nil {
		return err
	}
	defer cl.Close()
	return fn(kadm.NewClient(cl))
}

func newTopicCreateCmd(bootstrap *string) *cobra.Command {
	var partitions int32
	var replication int16
	var configs []string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a topic",
		Long: `create creates a topic. Without --partitions it gets the broker's
num.partitions; --config sets topic configs (retention.ms, cleanup.policy,
...), repeated for several.`,
		Example: "  runnel topic create clicks --partitions 3\n" +
			"  runnel topic create users --config cleanup.policy=compact --config segment.bytes=16777216",
		Args: oneTopic,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			kvs, err := keyValues("--config", configs)
			if err != nil {
				return err
			}
			cfgs := map[string]*string{}
			for _, kv := range kvs {
				cfgs[kv[0]] = kadm.StringPtr(kv[1])
			}
			return withAdmin(cmd.Context(), *bootstrap, func(adm *kadm.Client) error {
				resp, err := adm.CreateTopic(cmd.Context(), partitions, replication, cfgs, name)
				if err == nil {
					err = resp.Err
				}
				if err != nil {
					return topicError("create", name, *bootstrap, err, resp.ErrMessage)
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "created topic %q: %s, replication factor %d\n", name, counted(int64(resp.NumPartitions), "partition", "partitions"), resp.ReplicationFactor)
				for _, kv := range kvs {
					fmt.Fprintf(out, "  %s=%s\n", kv[0], kv[1])
				}
				return nil
			})
		},
	}
	cmd.Flags().Int32Var(&partitions, "partitions", -1, "number of partitions (default: the broker's num.partitions)")
	cmd.Flags().Int16Var(&replication, "replication-factor", -1, "replicas per partition (default: the broker's; runnel has 1)")
	cmd.Flags().StringArrayVar(&configs, "config", nil, "a topic config key=value; repeat for several")
	return cmd
}

func newTopicListCmd(bootstrap *string) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the topics with their partition counts",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd.Context(), *bootstrap, func(adm *kadm.Client) error {
				tds, err := adm.ListTopics(cmd.Context())
				if err != nil {
					return fmt.Errorf("cannot list topics: %w", err)
				}
				out := cmd.OutOrStdout()
				if len(tds) == 0 {
					fmt.Fprintln(out, "no topics (create one with: runnel topic create NAME)")
					return nil
				}
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tREPLICATION")
				for _, td := range tds.Sorted() {
					if td.Err != nil {
						fmt.Fprintf(tw, "%s\t-\t-\t(%v)\n", td.Topic, td.Err)
						continue
					}
					fmt.Fprintf(tw, "%s\t%d\t%d\n", td.Topic, len(td.Partitions), td.Partitions.NumReplicas())
				}
				return tw.Flush()
			})
		},
	}
}

func newTopicDescribeCmd(bootstrap *string) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a topic's partitions with their offsets, and its configs with where they come from",
		Long: `describe shows a topic: its id, its partitions (leader, replicas, in-sync
replicas, the log start offset and the end offset, i.e. the high
watermark), and every config in force with its source: set on the topic,
a broker default, or the built-in default.`,
		Args: oneTopic,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd.Context(), *bootstrap, func(adm *kadm.Client) error {
				return describeTopic(cmd.Context(), cmd.OutOrStdout(), adm, args[0], *bootstrap)
			})
		},
	}
}

func describeTopic(ctx context.Context, w io.Writer, adm *kadm.Client, name, bootstrap string) error {
	tds, err := adm.ListTopics(ctx, name)
	if err != nil {
		return fmt.Errorf("cannot describe topic %q: %w", name, err)
	}
	td := tds[name]
	if td.Err != nil {
		return topicError("describe", name, bootstrap, td.Err, "")
	}
	starts, err := adm.ListStartOffsets(ctx, name)
	if err != nil {
		return fmt.Errorf("cannot list the start offsets of %q: %w", name, err)
	}
	ends, err := adm.ListEndOffsets(ctx, name)
	if err != nil {
		return fmt.Errorf("cannot list the end offsets of %q: %w", name, err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, name)
	if err != nil {
		return fmt.Errorf("cannot describe the configs of %q: %w", name, err)
	}
	rc, err := rcs.On(name, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return topicError("describe the configs of", name, bootstrap, err, rc.ErrMessage)
	}

	out := &errWriter{w: w}
	out.printf("topic        %s\n", name)
	out.printf("id           %s\n", base64.RawURLEncoding.EncodeToString(td.ID[:])) // as Kafka's tools print it
	out.printf("partitions   %d, replication factor %d\n\n", len(td.Partitions), td.Partitions.NumReplicas())
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tLEADER\tREPLICAS\tISR\tSTART\tEND")
	for _, p := range td.Partitions.Sorted() {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\n", p.Partition, p.Leader, ints(p.Replicas), ints(p.ISR),
			offsetOf(starts, name, p.Partition), offsetOf(ends, name, p.Partition))
	}
	tw.Flush()
	out.printf("\n")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CONFIG\tVALUE\tSOURCE")
	configs := slices.Clone(rc.Configs)
	slices.SortFunc(configs, func(a, b kadm.Config) int { return strings.Compare(a.Key, b.Key) })
	for _, c := range configs {
		v := c.MaybeValue()
		if c.Sensitive {
			v = "(sensitive)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Key, v, sourceName(c.Source))
	}
	tw.Flush()
	return out.err
}

func offsetOf(l kadm.ListedOffsets, topic string, p int32) string {
	o, ok := l.Lookup(topic, p)
	if !ok || o.Err != nil {
		return "?"
	}
	return strconv.FormatInt(o.Offset, 10)
}

func ints(xs []int32) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(int(x))
	}
	return "[" + strings.Join(s, ",") + "]"
}

// sourceName says where a config value comes from, for people.
func sourceName(s kmsg.ConfigSource) string {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "set on topic"
	case kmsg.ConfigSourceDynamicBrokerConfig:
		return "broker (dynamic)"
	case kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return "cluster default (dynamic)"
	case kmsg.ConfigSourceStaticBrokerConfig:
		return "broker default"
	case kmsg.ConfigSourceDefaultConfig:
		return "default"
	}
	return strings.ToLower(s.String())
}

func newTopicAlterCmd(bootstrap *string) *cobra.Command {
	var set, del []string
	var partitions int
	cmd := &cobra.Command{
		Use:   "alter NAME",
		Short: "Change a topic's configs, or add partitions",
		Long: `alter changes the configs of a topic: --config sets one, --delete-config
removes one (it goes back to the broker default or the built-in one).
Configs not named keep their values. All changes apply together or not at
all. --partitions raises the partition count (partitions cannot be
removed; keyed records produced afterwards may go to another partition
than earlier ones with the same key).`,
		Example: "  runnel topic alter clicks --config retention.ms=3600000\n" +
			"  runnel topic alter clicks --delete-config retention.ms --partitions 6",
		Args: oneTopic,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			kvs, err := keyValues("--config", set)
			if err != nil {
				return err
			}
			if len(kvs) == 0 && len(del) == 0 && partitions == 0 {
				return fmt.Errorf("nothing to change: give --config key=value, --delete-config key or --partitions N\nRun '%s --help' for usage.", cmd.CommandPath())
			}
			var ops []kadm.AlterConfig
			for _, kv := range kvs {
				ops = append(ops, kadm.AlterConfig{Op: kadm.SetConfig, Name: kv[0], Value: kadm.StringPtr(kv[1])})
			}
			for _, k := range del {
				ops = append(ops, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
			}
			return withAdmin(cmd.Context(), *bootstrap, func(adm *kadm.Client) error {
				out := cmd.OutOrStdout()
				if len(ops) > 0 {
					rs, err := adm.AlterTopicConfigs(cmd.Context(), ops, name)
					if err != nil {
						return fmt.Errorf("cannot alter topic %q: %w", name, err)
					}
					r, err := rs.On(name, nil)
					if err == nil {
						err = r.Err
					}
					if err != nil {
						return topicError("alter", name, *bootstrap, err, r.ErrMessage)
					}
					for _, kv := range kvs {
						fmt.Fprintf(out, "set %s=%s on topic %q\n", kv[0], kv[1], name)
					}
					for _, k := range del {
						fmt.Fprintf(out, "deleted %s from topic %q: it takes the default now\n", k, name)
					}
				}
				if partitions != 0 {
					rs, err := adm.UpdatePartitions(cmd.Context(), partitions, name)
					if err != nil {
						return fmt.Errorf("cannot add partitions to topic %q: %w", name, err)
					}
					r, ok := rs[name]
					if !ok {
						return fmt.Errorf("cannot add partitions to topic %q: the broker did not answer for it", name)
					}
					if r.Err != nil {
						return topicError("add partitions to", name, *bootstrap, r.Err, r.ErrMessage)
					}
					fmt.Fprintf(out, "topic %q has %d partitions now\n", name, partitions)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringArrayVar(&set, "config", nil, "set a topic config key=value; repeat for several")
	cmd.Flags().StringArrayVar(&del, "delete-config", nil, "remove a topic config, back to its default; repeat for several")
	cmd.Flags().IntVar(&partitions, "partitions", 0, "the new partition count, higher than the current one")
	return cmd
}

func newTopicDeleteCmd(bootstrap *string) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a topic and all its records",
		Args:  oneTopic,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			return withAdmin(cmd.Context(), *bootstrap, func(adm *kadm.Client) error {
				resp, err := adm.DeleteTopic(cmd.Context(), name)
				if err == nil {
					err = resp.Err
				}
				if err != nil {
					return topicError("delete", name, *bootstrap, err, resp.ErrMessage)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted topic %q\n", name)
				return nil
			})
		},
	}
}
