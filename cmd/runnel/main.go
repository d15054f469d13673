// Command runnel is the runnel broker's command line.
//
// "runnel broker" runs the Kafka-compatible broker. The topic, produce,
// consume and group commands are Kafka clients (franz-go) that work against
// runnel or any Kafka cluster. "runnel demo" starts the broker in-process
// and makes a round trip through it with franz-go, and "runnel log dump"
// prints what is inside segment and index files, like Kafka's
// kafka-dump-log.sh. "runnel lint" checks pipeline files (YAML) and "runnel
// run" runs them, showing their progress; "runnel pipeline reset" makes one
// of them process its input again.
//
//	runnel broker --data-dir ./data
//	runnel topic create clicks --partitions 3
//	printf 'alice:hello\nbob:hi\n' | runnel produce clicks --key-separator :
//	runnel consume clicks --group reports --format '{{.Partition}}/{{.Offset}} {{.Key}}={{.Value}}'
//	runnel group describe reports
//	runnel group reset-offsets reports --topic clicks --to-earliest --execute
//	runnel demo --data-dir ./data
//	runnel log dump data/quickstart-0/00000000000000000000.log --records
//	runnel lint pipeline.yaml
//	runnel run pipeline.yaml
//	runnel run --once nightly.yaml
//	runnel pipeline reset nightly.yaml totals --to-earliest --execute
//	runnel version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line args with the given streams and returns
// the exit status: 0, or 1 after printing the error to stderr. Cancelling
// ctx stops the commands that run until interrupted (broker, consume
// --follow) the way SIGINT and SIGTERM do.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		msg := err.Error()
		if strings.HasPrefix(msg, "unknown command") && !strings.Contains(msg, "--help") {
			msg = strings.TrimRight(msg, "\n") + "\nRun 'runnel --help' for usage."
		}
		fmt.Fprintf(stderr, "runnel: %s\n", msg)
		return 1
	}
	return 0
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "runnel",
		Short: "A Kafka-compatible stream-processing broker",
		Long: `runnel is a Kafka-compatible stream-processing broker, in the making.

"runnel broker" serves a data directory over the Kafka protocol, so Kafka
clients (franz-go, librdkafka, kcat, kafka-python, ...) produce to it and
consume from it. The topic, produce, consume and group commands are such
clients themselves: they work against runnel or any Kafka cluster
(--bootstrap). "runnel demo" starts a broker in this process and makes a
round trip through it: produce, consume in a consumer group, commit.
"runnel run FILE" runs the YAML pipelines of a file (on the embedded
broker, or a Kafka cluster), "runnel lint FILE" checks them, and "runnel
pipeline reset FILE PIPELINE" makes one process its input again.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())
	})
	root.AddCommand(newBrokerCmd(), newTopicCmd(), newProduceCmd(), newConsumeCmd(),
		newGroupCmd(), newDemoCmd(), newLogCmd(), newLintCmd(), newRunCmd(), newPipelineCmd(), newVersionCmd())
	return root
}

// noArgs is cobra.NoArgs with a message for people.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s takes no arguments, got %q\nRun '%s --help' for usage.", cmd.CommandPath(), args, cmd.CommandPath())
	}
	return nil
}

// subcommandsOnly makes cmd, a command that only groups subcommands, print
// its help when run alone and fail on an unknown subcommand (cobra would
// print the help and succeed).
func subcommandsOnly(cmd *cobra.Command) {
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("unknown command %q for %q\nRun '%s --help' for usage.", args[0], c.CommandPath(), c.CommandPath())
		}
		return nil
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
}
