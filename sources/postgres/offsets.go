package postgres

import (
	"fmt"

	"github.com/runnel-io/runnel/internal/posfile"
)

// offsetsVersion is the version of the OffsetsFile format.
const offsetsVersion = 1

// offsetsJSON is the content of OffsetsFile.
type offsetsJSON struct {
	Version int    `json:"version"`
	Stream  string `json:"stream"`
	Mode    string `json:"mode"`
	Next    int64  `json:"next"`
}

// readOffsets reads the offsets file at path, written for stream in mode.
// It returns the position, or ok false when the file does not exist.
func readOffsets(path, stream, mode string) (next int64, ok bool, _ error) {
	var o offsetsJSON
	ok, err := posfile.Read(path, &o)
	if err != nil {
		// An unreadable file's error names path; a *posfile.CorruptError
		// reads "<path>: corrupt: <decoding error>".
		return 0, false, fmt.Errorf("postgres source: %s: %w", fieldOffsetsFile, err)
	}
	if !ok {
		return 0, false, nil
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("postgres source: %s: %s: "+format, append([]any{fieldOffsetsFile, path}, args...)...)
	}
	switch {
	case o.Version != offsetsVersion:
		return 0, false, corrupt("unknown version %d", o.Version)
	case o.Stream != stream:
		return 0, false, corrupt("holds the position of %q, not %q", o.Stream, stream)
	case o.Mode != mode:
		return 0, false, corrupt("holds a position of %s mode, not %s", o.Mode, mode)
	}
	return o.Next, true, nil
}

// writeOffsets replaces the offsets file at path so that a crash leaves
// either the old or the new content (posfile.Write: path+".tmp",
// fsync, rename, fsync of the directory).
func writeOffsets(path, stream, mode string, next int64) error {
	if err := posfile.Write(path, offsetsJSON{Version: offsetsVersion, Stream: stream, Mode: mode, Next: next}); err != nil {
		return fmt.Errorf("postgres source: %s: %w", fieldOffsetsFile, err)
	}
	return nil
}
