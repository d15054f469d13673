package datagen

import (
	"fmt"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/posfile"
)

// offsetsVersion is the version of the OffsetsFile format. Version 1 had
// no stream: its position is of the input without a start (LegacyStart).
const offsetsVersion = 2

// offsetsJSON is the content of OffsetsFile.
type offsetsJSON struct {
	Version int    `json:"version"`
	Preset  string `json:"preset"`
	Stream  string `json:"stream,omitempty"` // the input, with its start
	Next    int64  `json:"next"`
}

// readOffsets reads the offsets file at path, written for preset. It
// returns the input and the index of its next record, or ok false when
// the file does not exist.
func readOffsets(path, preset string) (in engine.Input, next int64, ok bool, _ error) {
	var o offsetsJSON
	ok, err := posfile.Read(path, &o)
	if err != nil {
		// An unreadable file's error names path; a *posfile.CorruptError
		// reads "<path>: corrupt: <decoding error>".
		return in, 0, false, fmt.Errorf("datagen source: %s: %w", fieldOffsetsFile, err)
	}
	if !ok {
		return in, 0, false, nil
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("datagen source: %s: %s: "+format, append([]any{fieldOffsetsFile, path}, args...)...)
	}
	in = engine.Input{Stream: streamPrefix(preset)}
	if o.Version == 2 {
		in.Stream = o.Stream
	}
	switch {
	case o.Version != 1 && o.Version != offsetsVersion:
		return in, 0, false, corrupt("unknown version %d", o.Version)
	case o.Preset != preset:
		return in, 0, false, corrupt("holds the position of preset %q, not %q", o.Preset, preset)
	case o.Next < 0:
		return in, 0, false, corrupt("corrupt: negative position %d", o.Next)
	}
	if _, ok := StartOf(preset, in); !ok {
		return in, 0, false, corrupt("corrupt: stream %q is not one of preset %q", o.Stream, preset)
	}
	return in, o.Next, true, nil
}

// writeOffsets replaces the offsets file at path so that a crash leaves
// either the old or the new content (posfile.Write: path+".tmp",
// fsync, rename, fsync of the directory).
func writeOffsets(path, preset string, in engine.Input, next int64) error {
	if err := posfile.Write(path, offsetsJSON{Version: offsetsVersion, Preset: preset, Stream: in.Stream, Next: next}); err != nil {
		return fmt.Errorf("datagen source: %s: %w", fieldOffsetsFile, err)
	}
	return nil
}

// ReadOffsetsFile returns what the offsets file at path, written for
// preset, holds: the input (its stream names the start of its records)
// and the index of the next record; ok is false when there is no file.
func ReadOffsetsFile(path, preset string) (in engine.Input, next int64, ok bool, err error) {
	return readOffsets(path, preset)
}

// RewindOffsetsFile moves the position in the offsets file at path,
// written for preset, back to record 0 of the same input, so that a
// source that has no other position (none reported by its sink) generates
// the same records again, from the first: their start stays the one the
// file names. It does nothing when there is no file.
func RewindOffsetsFile(path, preset string) error {
	in, _, ok, err := readOffsets(path, preset)
	if err != nil || !ok {
		return err
	}
	return writeOffsets(path, preset, in, 0)
}
