// Command runnel is the runnel broker's command line.
//
// Today it runs the broker's storage in-process: "runnel demo" produces and
// consumes records through the partition logs of a data directory, and
// "runnel log dump" prints what is inside segment and index files, like
// Kafka's kafka-dump-log.sh. The Kafka wire protocol is not there yet.
//
//	runnel demo --data-dir ./data
//	runnel log dump data/quickstart-0/00000000000000000000.log --records
//	runnel version
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args with the given output streams and
// returns the exit status: 0, or 1 after printing the error to stderr.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		msg := err.Error()
		if strings.HasPrefix(msg, "unknown command") {
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
		Short: "A Kafka-compatible stream-processing broker (storage preview)",
		Long: `runnel is a Kafka-compatible stream-processing broker, in the making.

What exists today is the broker's storage: partition logs of Kafka
RecordBatch v2 segments with indexes, durable appends, crash recovery,
retention and compaction, and the data directory that holds the topics.
The Kafka wire protocol is not there yet, so Kafka clients cannot connect:
"runnel demo" drives the storage in-process instead.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())
	})
	root.AddCommand(newVersionCmd(), newDemoCmd(), newLogCmd())
	return root
}

// noArgs is cobra.NoArgs with a message for people.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s takes no arguments, got %q\nRun '%s --help' for usage.", cmd.CommandPath(), args, cmd.CommandPath())
	}
	return nil
}
