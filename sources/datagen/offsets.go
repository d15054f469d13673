package datagen

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/runnel-io/runnel/internal/fsutil"
)

// offsetsVersion is the version of the OffsetsFile format.
const offsetsVersion = 1

// offsetsJSON is the content of OffsetsFile.
type offsetsJSON struct {
	Version int    `json:"version"`
	Preset  string `json:"preset"`
	Next    int64  `json:"next"`
}

// readOffsets reads the offsets file at path, written for preset. It
// returns the index of the next record, or ok false when the file does
// not exist.
func readOffsets(path, preset string) (next int64, ok bool, _ error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("datagen source: %s: %w", fieldOffsetsFile, err)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("datagen source: %s: %s: "+format, append([]any{fieldOffsetsFile, path}, args...)...)
	}
	var o offsetsJSON
	if err := json.Unmarshal(b, &o); err != nil {
		return 0, false, corrupt("corrupt: %w", err)
	}
	switch {
	case o.Version != offsetsVersion:
		return 0, false, corrupt("unknown version %d", o.Version)
	case o.Preset != preset:
		return 0, false, corrupt("holds the position of preset %q, not %q", o.Preset, preset)
	case o.Next < 0:
		return 0, false, corrupt("corrupt: negative position %d", o.Next)
	}
	return o.Next, true, nil
}

// writeOffsets replaces the offsets file at path so that a crash leaves
// either the old or the new content (fsutil.WriteFileAtomic: path+".tmp",
// fsync, rename, fsync of the directory).
func writeOffsets(path, preset string, next int64) error {
	b, err := json.Marshal(offsetsJSON{Version: offsetsVersion, Preset: preset, Next: next})
	if err != nil {
		return fmt.Errorf("datagen source: %s: %w", fieldOffsetsFile, err)
	}
	if err := fsutil.WriteFileAtomic(filepath.Dir(path), filepath.Base(path), append(b, '\n')); err != nil {
		return fmt.Errorf("datagen source: %s: %w", fieldOffsetsFile, err)
	}
	return nil
}
