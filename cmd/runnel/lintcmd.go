package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runnel-io/runnel/pipelines"
	"github.com/runnel-io/runnel/pipelines/spec"
)

func newLintCmd() *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "lint FILE...",
		Short: "Check pipeline files and print every problem at file:line:col",
		Long: `lint reads pipeline files (YAML) and checks them the way "runnel run"
does before it starts, without running anything: unknown or missing
fields, keys given twice, values of the wrong kind, expressions that do
not compile, steps in the wrong place, inputs and outputs that are not
declared.

It prints every problem of every file on stdout, one per line, as

  pipeline.yaml:12:5: unknown field "tabel" (did you mean "table"?)

which editors and CI logs turn into links. A file without problems prints
nothing (with -v, one line saying so). The exit status is 1 when a file
has a problem or cannot be read, 0 otherwise.

${NAME} in a file is replaced by the environment variable NAME, as in
"runnel run".`,
		Example: "  runnel lint pipeline.yaml\n" +
			"  runnel lint -v pipelines/*.yaml",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("name at least one pipeline file\nRun '%s --help' for usage.", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, files []string) error {
			return lintFiles(cmd.OutOrStdout(), files, verbose, os.LookupEnv)
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "also print a line for each file without problems")
	return cmd
}

// lintFiles checks each file in turn and prints its problems to w. The
// error counts the problems and names the files that could not be read.
func lintFiles(w io.Writer, files []string, verbose bool, lookupEnv func(string) (string, bool)) error {
	var unreadable []error
	problems, bad := 0, 0
	for _, path := range files {
		f, err := pipelines.LoadFile(path, pipelines.LoadOptions{LookupEnv: lookupEnv, Logger: slog.New(slog.DiscardHandler)})
		var ps spec.Problems
		switch {
		case errors.As(err, &ps):
			printProblems(w, ps)
			problems += len(ps)
			bad++
		case err != nil:
			unreadable = append(unreadable, readError(path, err))
		case verbose:
			names := f.Names()
			fmt.Fprintf(w, "%s: ok, %s (%s)\n", path, counted(int64(len(names)), "pipeline", "pipelines"), strings.Join(names, ", "))
		}
	}
	var msgs []string
	for _, err := range unreadable {
		msgs = append(msgs, err.Error())
	}
	if problems > 0 {
		msgs = append(msgs, fmt.Sprintf("%s in %s", counted(int64(problems), "problem", "problems"), counted(int64(bad), "file", "files")))
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "\n"))
}

// printProblems prints one problem a line, as file:line:col: message.
func printProblems(w io.Writer, ps spec.Problems) {
	for _, p := range ps {
		fmt.Fprintln(w, p.String())
	}
}

// readError says that path could not be read, without repeating the path
// as os errors do ("open x.yaml: no such file or directory").
func readError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return fmt.Errorf("%s: %w", path, pe.Err)
	}
	return fmt.Errorf("%s: %w", path, err)
}
