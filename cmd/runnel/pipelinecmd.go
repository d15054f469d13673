package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnel-io/runnel/pipelines"
	"github.com/runnel-io/runnel/pipelines/spec"
)

// The pipeline commands act on the pipelines of a pipeline file: reset
// makes one process its input again.

func newPipelineCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Act on the pipelines of a pipeline file: reset one to process its input again",
		Example: "  runnel pipeline reset pipeline.yaml revenue --to-earliest\n" +
			"  runnel pipeline reset pipeline.yaml revenue --to-earliest --execute",
	}
	subcommandsOnly(cmd)
	cmd.AddCommand(newPipelineResetCmd())
	return cmd
}

// pipelineResetConfig is what "runnel pipeline reset" does; tests fill it
// directly.
type pipelineResetConfig struct {
	File, Pipeline string
	ToEarliest     bool
	ToDatetime     string // RFC 3339; "" when not given
	Execute        bool
}

func newPipelineResetCmd() *cobra.Command {
	var cfg pipelineResetConfig
	cmd := &cobra.Command{
		Use:   "reset FILE PIPELINE (--to-earliest | --to-datetime TIME) [--execute]",
		Short: "Make a pipeline process its input again (a dry run unless --execute)",
		Long: `reset makes a pipeline of a pipeline file process its input again at its
next run, like Kafka Streams' application reset tool. A pipeline keeps
positions in several places, and moving only the offsets of its consumer
group (runnel group reset-offsets) is not enough: its outputs stored the
positions they hold, and its windows' state was taken there, so the
stages after a key_by would resume where they were, and the records read
again would come late. reset moves all of them together:

  - the committed offsets of the pipeline's group for its topic inputs:
    to each partition's log start (--to-earliest), or to the first record
    at or after TIME (--to-datetime, RFC 3339);
  - the offsets files of its file and Postgres inputs (deleted: read from
    the start) and datagen inputs (back to record 0: the same records are
    generated again); --to-datetime takes topic inputs only;
  - the offsets of the groups of the stages after each key_by: to the end
    of their repartition topics, which the first stage writes again;
  - the positions its outputs stored with their data (part files,
    Postgres, Elasticsearch, topics): deleted;
  - the snapshots of its windows' state: deleted.

The outputs keep what they hold: the next run writes part files beside
the old ones, inserts rows again (upserts replace them), produces the
records to output topics again. Clear them first if the new results are
to replace the old. See "Reprocessing" in docs/pipelines-yaml.md.

Without --execute it is a dry run: it prints each change, where and from
what to what, and changes nothing. The pipeline must be stopped: reset
refuses while a group of the pipeline has members, or while its data
directory is in use (runnel run holds it). Should reset fail half way,
run it again.`,
		Example: "  runnel pipeline reset pipeline.yaml revenue --to-earliest\n" +
			"  runnel pipeline reset pipeline.yaml revenue --to-earliest --execute\n" +
			"  runnel pipeline reset pipeline.yaml revenue --to-datetime 2026-03-01T12:00:00Z --execute",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("name a pipeline file and one of its pipelines, got %d arguments\nRun '%s --help' for usage.", len(args), cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.File, cfg.Pipeline = args[0], args[1]
			return resetPipeline(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), cfg)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&cfg.ToEarliest, "to-earliest", false, "process the input again from its start")
	f.StringVar(&cfg.ToDatetime, "to-datetime", "", "process the topic inputs again from the first record at or after this time (RFC 3339, e.g. 2026-03-01T12:00:00Z)")
	f.BoolVar(&cfg.Execute, "execute", false, "make the changes (without it, only print them)")
	return cmd
}

func resetPipeline(ctx context.Context, stdout, stderr io.Writer, cfg pipelineResetConfig) error {
	var o pipelines.ResetOptions
	switch {
	case cfg.ToEarliest && cfg.ToDatetime != "":
		return errors.New("--to-earliest and --to-datetime each say where to read the input again from: give one")
	case !cfg.ToEarliest && cfg.ToDatetime == "":
		return errors.New("say where to read the input again from: --to-earliest or --to-datetime TIME\nRun 'runnel pipeline reset --help' for usage.")
	case cfg.ToEarliest:
		o.ToEarliest = true
	default:
		t, err := time.Parse(time.RFC3339Nano, cfg.ToDatetime)
		if err != nil {
			return fmt.Errorf("--to-datetime %q: want a time like 2026-03-01T12:00:00Z (RFC 3339)", cfg.ToDatetime)
		}
		o.ToTime = t
	}
	o.Execute = cfg.Execute

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f, err := pipelines.LoadFile(cfg.File, pipelines.LoadOptions{LookupEnv: os.LookupEnv, Logger: logger})
	var ps spec.Problems
	switch {
	case errors.As(err, &ps):
		printProblems(stdout, ps)
		return fmt.Errorf("%s in %s: nothing was reset", counted(int64(len(ps)), "problem", "problems"), cfg.File)
	case err != nil:
		return readError(cfg.File, err)
	}
	names := f.Names()
	if !slices.Contains(names, cfg.Pipeline) {
		msg := fmt.Sprintf("%s has no pipeline %q", cfg.File, cfg.Pipeline)
		if s := spec.Suggest(cfg.Pipeline, names); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else {
			msg += " (its pipelines: " + quoteAll(names) + ")"
		}
		return errors.New(msg)
	}

	plan, err := f.Reset(ctx, cfg.Pipeline, o)
	if plan == nil {
		return err
	}
	where := "Kafka at " + strings.Join(f.Bootstrap, ",")
	if len(f.Bootstrap) == 0 {
		abs, _ := filepath.Abs(f.DataDir)
		where = "embedded broker, data in " + abs
	}
	out := &errWriter{w: stdout}
	out.printf("reset pipeline %s of %s (%s) to %s:\n", plan.Pipeline, cfg.File, where, plan.Target)
	stage := -1
	for _, a := range plan.Actions {
		if a.Stage != stage {
			stage = a.Stage
			out.printf("stage %d:\n", stage)
		}
		out.printf("  %s\n", a)
	}
	for _, n := range plan.Notes {
		out.printf("note: %s\n", n)
	}
	switch {
	case err != nil:
		return err
	case !plan.Executed:
		out.printf("dry run: nothing changed; add --execute\n")
	default:
		out.printf("done: the next run of %s processes its input again from %s\n", plan.Pipeline, plan.Target)
	}
	return out.err
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
