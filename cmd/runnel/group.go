package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The group commands administer consumer groups of runnel or any Kafka
// cluster, like Kafka's kafka-consumer-groups.sh: list, describe (with the
// lag of every partition), reset-offsets and delete.

func newGroupCmd() *cobra.Command {
	var bootstrap string
	cmd := &cobra.Command{
		Use:   "group",
		Short: "List, describe, reset the offsets of and delete consumer groups (runnel or any Kafka cluster)",
		Long: `group administers consumer groups, like Kafka's kafka-consumer-groups.sh:
list them, describe one (its members, and per partition its committed
offset, the log end offset and the lag between them), move its committed
offsets (reset-offsets), or delete it.

A group's offsets can only be reset, and a group deleted, while it is
inactive: stop its consumers first.`,
		Example: "  runnel group list\n" +
			"  runnel group describe reports\n" +
			"  runnel group reset-offsets reports --topic clicks --to-earliest --execute",
	}
	addBootstrapFlag(cmd, &bootstrap)
	subcommandsOnly(cmd)
	cmd.AddCommand(newGroupListCmd(&bootstrap), newGroupDescribeCmd(&bootstrap),
		newGroupResetCmd(&bootstrap), newGroupDeleteCmd(&bootstrap))
	return cmd
}

// oneGroup is a cobra.Args for commands that take a group name.
func oneGroup(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%s takes one group name, got %d arguments\nRun '%s --help' for usage.", cmd.CommandPath(), len(args), cmd.CommandPath())
	}
	if args[0] == "" {
		return errors.New("the group name is empty: name a group (see them with: runnel group list)")
	}
	return nil
}

// Group states, as Kafka names them.
const (
	groupEmpty  = "Empty"
	groupStable = "Stable"
	groupDead   = "Dead"
)

// groupError turns the error of doing something (a verb: "describe",
// "delete") to a group into a sentence; msg is the broker's error message,
// if any.
func groupError(verb, group, bootstrap string, err error, msg string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.GroupIDNotFound):
		return unknownGroup(group, bootstrap)
	case errors.Is(err, kerr.InvalidGroupID):
		return fmt.Errorf("cannot %s group %q: not a valid group name", verb, group)
	case errors.Is(err, kerr.NonEmptyGroup):
		return fmt.Errorf("cannot %s group %q: the group is not empty: it has active members. %s", verb, group, stopConsumers(verb))
	}
	return fmt.Errorf("cannot %s group %q: %s", verb, group, brokerSays(err, msg))
}

func unknownGroup(group, bootstrap string) error {
	flag := ""
	if bootstrap != defaultBootstrap {
		flag = " --bootstrap " + bootstrap
	}
	return fmt.Errorf("group %q does not exist (see the groups with: runnel group list%s)", group, flag)
}

// notEmpty refuses to verb a group that has members, as Kafka does.
func notEmpty(verb, group, state string, members int) error {
	return fmt.Errorf("cannot %s group %q: the group is not empty: it has %s (state %s). %s",
		verb, group, counted(int64(members), "active member", "active members"), state, stopConsumers(verb))
}

func stopConsumers(verb string) string {
	if verb == "delete" {
		return "Only an inactive group can be deleted: stop its consumers, then try again"
	}
	return "Offsets can only be reset while the group is inactive: stop its consumers, then try again"
}

// describeOne describes group; exists is false for a group the broker does
// not know (Dead, or GROUP_ID_NOT_FOUND from DescribeGroups v6+).
func describeOne(ctx context.Context, adm *kadm.Client, verb, group, bootstrap string) (g kadm.DescribedGroup, exists bool, err error) {
	ds, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return g, false, groupError(verb, group, bootstrap, err, "")
	}
	g, ok := ds[group]
	switch {
	case !ok:
		return g, false, fmt.Errorf("cannot %s group %q: the broker did not answer for it", verb, group)
	case errors.Is(g.Err, kerr.GroupIDNotFound):
		return g, false, nil
	case g.Err != nil:
		return g, false, groupError(verb, group, bootstrap, g.Err, g.ErrMessage)
	}
	return g, g.State != groupDead, nil
}

func newGroupListCmd(bootstrap *string) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the consumer groups with their states and member counts",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd.Context(), *bootstrap, func(adm *kadm.Client) error {
				return listGroups(cmd.Context(), cmd.OutOrStdout(), adm)
			})
		},
	}
}

func listGroups(ctx context.Context, w io.Writer, adm *kadm.Client) error {
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return fmt.Errorf("cannot list the consumer groups: %s", brokerSays(err, ""))
	}
	if len(listed) == 0 {
		_, err := fmt.Fprintln(w, "no consumer groups (consuming with a group creates one: runnel consume TOPIC --group NAME)")
		return err
	}
	// The member counts come from DescribeGroups; without them the list
	// is still worth printing.
	described, derr := adm.DescribeGroups(ctx, listed.Groups()...)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL-TYPE\tMEMBERS")
	for _, l := range listed.Sorted() {
		state, members := l.State, "?"
		if d, ok := described[l.Group]; ok && d.Err == nil {
			members = strconv.Itoa(len(d.Members))
			if state == "" { // brokers before Kafka 2.6 list no state
				state = d.State
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Group, orDash(state), orDash(l.ProtocolType), members)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if derr != nil {
		return fmt.Errorf("cannot describe the groups for their member counts: %s", brokerSays(derr, ""))
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newGroupDescribeCmd(bootstrap *string) *cobra.Command {
	return &cobra.Command{
		Use:   "describe GROUP",
		Short: "Show a group's members, and per partition its committed offset, the log end offset and the lag",
		Long: `describe shows a consumer group: its state, protocol and coordinator, its
members (member id, client id, host, and the partitions assigned to each),
and for every partition it is assigned or has committed an offset for:
the committed offset (CURRENT-OFFSET, "-" if none), the partition's log end
offset (its high watermark), the LAG between them (records not consumed
yet; without a commit, counted from the log start), and the member that
owns the partition ("-" when none does), like
kafka-consumer-groups.sh --describe.`,
		Args: oneGroup,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd.Context(), *bootstrap, func(adm *kadm.Client) error {
				return describeGroup(cmd.Context(), cmd.OutOrStdout(), adm, args[0], *bootstrap)
			})
		},
	}
}

func describeGroup(ctx context.Context, w io.Writer, adm *kadm.Client, group, bootstrap string) error {
	lags, err := adm.Lag(ctx, group)
	if err != nil {
		return groupError("describe", group, bootstrap, err, "")
	}
	l, ok := lags[group]
	if !ok {
		return fmt.Errorf("cannot describe group %q: the broker did not answer for it", group)
	}
	if err := l.Error(); err != nil {
		return groupError("describe", group, bootstrap, err, "")
	}
	rows := l.Lag.Sorted()
	if l.State == groupDead && len(l.Members) == 0 && len(rows) == 0 {
		return unknownGroup(group, bootstrap)
	}

	out := &errWriter{w: w}
	out.printf("group        %s\n", group)
	switch n := len(l.Members); {
	case n == 0:
		out.printf("state        %s, no active members\n", l.State)
	default:
		out.printf("state        %s, %s\n", l.State, counted(int64(n), "member", "members"))
	}
	switch {
	case l.ProtocolType == "":
		out.printf("protocol     none (offsets committed without group management)\n")
	case l.Protocol == "":
		out.printf("protocol     %s\n", l.ProtocolType)
	default:
		out.printf("protocol     %s, assignor %s\n", l.ProtocolType, l.Protocol)
	}
	out.printf("coordinator  node %d at %s\n", l.Coordinator.NodeID, brokerAddr(l.Coordinator))

	if len(l.Members) > 0 {
		out.printf("\n")
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "MEMBER\tCLIENT-ID\tHOST\tASSIGNED")
		for _, m := range l.Members {
			id := m.MemberID
			if m.InstanceID != nil {
				id += " (instance " + *m.InstanceID + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", id, orDash(m.ClientID), orDash(m.ClientHost), assigned(m, l.State))
		}
		tw.Flush()
	}

	out.printf("\n")
	if len(rows) == 0 {
		out.printf("no committed offsets and no assigned partitions\n")
		return out.err
	}
	var problems []string
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tMEMBER")
	for _, r := range rows {
		current, end, lag, member := "-", "?", "?", "-"
		if r.Commit.At >= 0 {
			current = strconv.FormatInt(r.Commit.At, 10)
		}
		if r.End.Err == nil {
			end = strconv.FormatInt(r.End.Offset, 10)
		}
		if r.Lag >= 0 {
			lag = strconv.FormatInt(r.Lag, 10)
		}
		if r.Member != nil {
			member = r.Member.MemberID
		}
		if r.Err != nil {
			problems = append(problems, fmt.Sprintf("partition %d of topic %q: %s", r.Partition, r.Topic, brokerSays(r.Err, "")))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.Topic, r.Partition, current, end, lag, member)
	}
	tw.Flush()
	out.printf("\ntotal lag %d\n", l.Lag.Total())
	for _, p := range problems {
		out.printf("%s\n", p)
	}
	return out.err
}

func brokerAddr(b kadm.BrokerDetail) string {
	if b.Host == "" {
		return "?"
	}
	return fmt.Sprintf("%s:%d", b.Host, b.Port)
}

// assigned lists a member's partitions as "topic: 0,1,2; other: 3".
// Brokers tell assignments only while the group is Stable.
func assigned(m kadm.DescribedGroupMember, state string) string {
	c, ok := m.Assigned.AsConsumer()
	if !ok || len(c.Topics) == 0 {
		if state != groupStable {
			return "- (known once the group is Stable)"
		}
		return "-"
	}
	var parts []string
	topics := slices.Clone(c.Topics)
	slices.SortFunc(topics, func(a, b kmsg.ConsumerMemberAssignmentTopic) int { return strings.Compare(a.Topic, b.Topic) })
	for _, t := range topics {
		ps := slices.Clone(t.Partitions)
		slices.Sort(ps)
		s := make([]string, len(ps))
		for i, p := range ps {
			s[i] = strconv.Itoa(int(p))
		}
		parts = append(parts, t.Topic+": "+strings.Join(s, ","))
	}
	return strings.Join(parts, "; ")
}

// resetConfig is what "runnel group reset-offsets" does; tests fill it
// directly.
type resetConfig struct {
	Bootstrap  string
	Group      string
	Topic      string
	Partitions []int32 // empty: every partition of Topic
	// Exactly one of the targets: "earliest", "latest", "offset" (To),
	// "datetime" (At), "shift" (By).
	Target  string
	To      int64
	At      time.Time
	By      int64
	Execute bool
}

func newGroupResetCmd(bootstrap *string) *cobra.Command {
	var cfg resetConfig
	var toEarliest, toLatest bool
	var datetime string
	cmd := &cobra.Command{
		Use:   "reset-offsets GROUP --topic TOPIC (--to-earliest | --to-latest | --to-offset N | --to-datetime TIME | --shift-by N)",
		Short: "Move a group's committed offsets for a topic (a dry run unless --execute)",
		Long: `reset-offsets moves the committed offsets of a consumer group for the
partitions of --topic (all of them, or those named with --partition), so
that its consumers start there next time. Where to:

  --to-earliest         each partition's log start offset
  --to-latest           each partition's log end offset (skip everything)
  --to-offset N         offset N
  --to-datetime TIME    the first record at or after TIME (RFC 3339), or the
                        log end if there is none
  --shift-by N          the committed offset plus N (minus with N < 0)

A new offset outside a partition's records is clamped to the log start or
the log end, as Kafka does.

Without --execute it is a dry run: it prints the plan, each partition's
current and new offset, and changes nothing. With --execute it commits the
new offsets. The group must be inactive (no members: stop its consumers);
a group that does not exist yet is created with the new offsets.`,
		Example: "  runnel group reset-offsets reports --topic clicks --to-earliest\n" +
			"  runnel group reset-offsets reports --topic clicks --to-datetime 2025-03-01T12:00:00Z --execute\n" +
			"  runnel group reset-offsets reports --topic clicks --partition 0 --shift-by -10 --execute",
		Args: oneGroup,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Bootstrap, cfg.Group = *bootstrap, args[0]
			f := cmd.Flags()
			var targets []string
			for _, t := range []struct {
				flag, target string
				given        bool
			}{
				{"--to-earliest", "earliest", toEarliest}, {"--to-latest", "latest", toLatest},
				{"--to-offset", "offset", f.Changed("to-offset")}, {"--to-datetime", "datetime", f.Changed("to-datetime")},
				{"--shift-by", "shift", f.Changed("shift-by")},
			} {
				if t.given {
					targets = append(targets, t.flag)
					cfg.Target = t.target
				}
			}
			switch {
			case cfg.Topic == "":
				return fmt.Errorf("name the topic whose offsets to reset with --topic\nRun '%s --help' for usage.", cmd.CommandPath())
			case len(targets) == 0:
				return fmt.Errorf("say where to reset the offsets to: --to-earliest, --to-latest, --to-offset N, --to-datetime TIME or --shift-by N\nRun '%s --help' for usage.", cmd.CommandPath())
			case len(targets) > 1:
				return fmt.Errorf("%s each say where to reset the offsets to: give one", strings.Join(targets, " and "))
			case cfg.Target == "offset" && cfg.To < 0:
				return fmt.Errorf("--to-offset %d: offsets start at 0", cfg.To)
			case cfg.Target == "datetime":
				t, err := time.Parse(time.RFC3339Nano, datetime)
				if err != nil {
					return fmt.Errorf("--to-datetime %q: want a time like 2025-03-01T12:00:00Z (RFC 3339)", datetime)
				}
				cfg.At = t
			}
			return withAdmin(cmd.Context(), cfg.Bootstrap, func(adm *kadm.Client) error {
				return resetOffsets(cmd.Context(), cmd.OutOrStdout(), adm, cfg)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Topic, "topic", "", "the topic whose offsets to reset (required)")
	f.Int32SliceVar(&cfg.Partitions, "partition", nil, "reset only this partition; repeat or comma-separate for several (default: all)")
	f.BoolVar(&toEarliest, "to-earliest", false, "reset to each partition's log start offset")
	f.BoolVar(&toLatest, "to-latest", false, "reset to each partition's log end offset")
	f.Int64Var(&cfg.To, "to-offset", 0, "reset to this offset")
	f.StringVar(&datetime, "to-datetime", "", "reset to the first record at or after this time (RFC 3339, e.g. 2025-03-01T12:00:00Z)")
	f.Int64Var(&cfg.By, "shift-by", 0, "move each committed offset by this many records (negative: back)")
	f.BoolVar(&cfg.Execute, "execute", false, "commit the new offsets (without it, only print the plan)")
	return cmd
}

// resetRow is the plan for one partition.
type resetRow struct {
	partition  int32
	current    int64 // -1: nothing committed
	next       int64
	start, end int64
	clamped    bool  // next was moved into [start, end] ...
	wanted     int64 // ... from wanted
}

func resetOffsets(ctx context.Context, w io.Writer, adm *kadm.Client, cfg resetConfig) error {
	const verb = "reset the offsets of"
	g, exists, err := describeOne(ctx, adm, verb, cfg.Group, cfg.Bootstrap)
	if err != nil {
		return err
	}
	if exists && (g.State != groupEmpty || len(g.Members) > 0) {
		return notEmpty(verb, cfg.Group, g.State, len(g.Members))
	}

	tds, err := adm.ListTopics(ctx, cfg.Topic)
	if err != nil {
		return fmt.Errorf("cannot look up topic %q: %w", cfg.Topic, err)
	}
	td := tds[cfg.Topic]
	if td.Err != nil {
		return topicError("use", cfg.Topic, cfg.Bootstrap, td.Err, "")
	}
	n := int32(len(td.Partitions))
	partitions := slices.Clone(cfg.Partitions)
	if len(partitions) == 0 {
		for p := range n {
			partitions = append(partitions, p)
		}
	}
	slices.Sort(partitions)
	partitions = slices.Compact(partitions)
	for _, p := range partitions {
		if p < 0 || p >= n {
			return fmt.Errorf("topic %q has %s (0 to %d); there is no partition %d", cfg.Topic, counted(int64(n), "partition", "partitions"), n-1, p)
		}
	}

	committed, err := adm.FetchOffsets(ctx, cfg.Group)
	if err != nil {
		return groupError("fetch the committed offsets of", cfg.Group, cfg.Bootstrap, err, "")
	}
	starts, err := listOffsets(ctx, adm, cfg.Topic, "start", adm.ListStartOffsets)
	if err != nil {
		return err
	}
	ends, err := listOffsets(ctx, adm, cfg.Topic, "end", adm.ListEndOffsets)
	if err != nil {
		return err
	}
	var atTime map[int32]int64
	if cfg.Target == "datetime" {
		atTime, err = listOffsets(ctx, adm, cfg.Topic, "time", func(ctx context.Context, topics ...string) (kadm.ListedOffsets, error) {
			return adm.ListOffsetsAfterMilli(ctx, cfg.At.UnixMilli(), topics...)
		})
		if err != nil {
			return err
		}
	}

	var rows []resetRow
	var noCommit []string
	for _, p := range partitions {
		r := resetRow{partition: p, current: -1, start: starts[p], end: ends[p]}
		if o, ok := committed.Lookup(cfg.Topic, p); ok && o.Err == nil && o.At >= 0 {
			r.current = o.At
		}
		switch cfg.Target {
		case "earliest":
			r.next = r.start
		case "latest":
			r.next = r.end
		case "offset":
			r.next = cfg.To
		case "datetime":
			r.next = atTime[p]
		case "shift":
			if r.current < 0 {
				noCommit = append(noCommit, strconv.Itoa(int(p)))
				continue
			}
			r.next = r.current + cfg.By
		}
		if r.next < r.start || r.next > r.end {
			r.clamped, r.wanted = true, r.next
			r.next = min(max(r.next, r.start), r.end)
		}
		rows = append(rows, r)
	}
	if len(noCommit) > 0 {
		return fmt.Errorf("cannot shift the offsets of group %q: it has no committed offset for partition %s of topic %q to shift from; use --to-earliest, --to-latest, --to-offset or --to-datetime there",
			cfg.Group, strings.Join(noCommit, ", "), cfg.Topic)
	}

	out := &errWriter{w: w}
	switch {
	case !exists:
		out.printf("group %q does not exist yet: --execute creates it with these offsets\n\n", cfg.Group)
	default:
		out.printf("group %q is inactive (%s): its offsets can be reset\n\n", cfg.Group, g.State)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCURRENT-OFFSET\tNEW-OFFSET\tLOG-START-OFFSET\tLOG-END-OFFSET\tLAG-AFTER")
	for _, r := range rows {
		cur := "-"
		if r.current >= 0 {
			cur = strconv.FormatInt(r.current, 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\n", cfg.Topic, r.partition, cur, r.next, r.start, r.end, r.end-r.next)
	}
	tw.Flush()
	for _, r := range rows {
		switch {
		case !r.clamped:
		case r.wanted < r.start:
			out.printf("note: partition %d: offset %d is before the log start, so it is %d\n", r.partition, r.wanted, r.next)
		default:
			out.printf("note: partition %d: offset %d is past the log end, so it is %d\n", r.partition, r.wanted, r.next)
		}
	}
	if !cfg.Execute {
		out.printf("\ndry run: nothing changed. Run again with --execute to commit these offsets.\n")
		return out.err
	}

	offsets := kadm.Offsets{}
	for _, r := range rows {
		offsets.Add(kadm.Offset{Topic: cfg.Topic, Partition: r.partition, At: r.next, LeaderEpoch: -1})
	}
	resps, err := adm.CommitOffsets(ctx, cfg.Group, offsets)
	if err == nil {
		err = resps.Error()
	}
	switch {
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.RebalanceInProgress):
		// A consumer joined since the check above.
		if g, _, derr := describeOne(ctx, adm, verb, cfg.Group, cfg.Bootstrap); derr == nil && len(g.Members) > 0 {
			return notEmpty(verb, cfg.Group, g.State, len(g.Members))
		}
		return fmt.Errorf("cannot %s group %q: the group is not empty: a consumer joined it meanwhile. %s", verb, cfg.Group, stopConsumers(verb))
	case err != nil:
		return groupError("commit the new offsets of", cfg.Group, cfg.Bootstrap, err, "")
	}
	out.printf("\ncommitted the new offsets of group %q: %s of topic %q reset\n", cfg.Group, counted(int64(len(rows)), "partition", "partitions"), cfg.Topic)
	return out.err
}

func newGroupDeleteCmd(bootstrap *string) *cobra.Command {
	return &cobra.Command{
		Use:   "delete GROUP...",
		Short: "Delete inactive consumer groups and their committed offsets",
		Long: `delete deletes consumer groups with their committed offsets. Only an
inactive group (no members: its consumers stopped) can be deleted.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("name at least one group to delete\nRun '%s --help' for usage.", cmd.CommandPath())
			}
			if slices.Contains(args, "") {
				return errors.New("a group name is empty: name the groups to delete (see them with: runnel group list)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd.Context(), *bootstrap, func(adm *kadm.Client) error {
				return deleteGroups(cmd.Context(), cmd.OutOrStdout(), adm, args, *bootstrap)
			})
		},
	}
}

func deleteGroups(ctx context.Context, w io.Writer, adm *kadm.Client, groups []string, bootstrap string) error {
	var uniq []string
	for _, g := range groups {
		if !slices.Contains(uniq, g) {
			uniq = append(uniq, g)
		}
	}
	resps, err := adm.DeleteGroups(ctx, uniq...)
	if err != nil && len(resps) == 0 {
		return fmt.Errorf("cannot delete %s: %s", quotedList(uniq), brokerSays(err, ""))
	}
	out := &errWriter{w: w}
	var errs []error
	for _, g := range uniq {
		r, ok := resps[g]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("cannot delete group %q: the broker did not answer for it", g))
		case errors.Is(r.Err, kerr.NonEmptyGroup):
			if d, _, derr := describeOne(ctx, adm, "delete", g, bootstrap); derr == nil && len(d.Members) > 0 {
				errs = append(errs, notEmpty("delete", g, d.State, len(d.Members)))
			} else {
				errs = append(errs, groupError("delete", g, bootstrap, r.Err, r.ErrMessage))
			}
		case r.Err != nil:
			errs = append(errs, groupError("delete", g, bootstrap, r.Err, r.ErrMessage))
		default:
			out.printf("deleted group %q and its committed offsets\n", g)
		}
	}
	return errors.Join(append(errs, out.err)...)
}

func quotedList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	if len(q) == 1 {
		return "group " + q[0]
	}
	return "groups " + strings.Join(q, ", ")
}
