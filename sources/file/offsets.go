package file

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/posfile"
)

// tmpSuffix names the temporary file OffsetsFile is written to before it
// is renamed over it.
const tmpSuffix = ".tmp"

// offsetsVersion is the version of the OffsetsFile format.
const offsetsVersion = 1

// offsetsJSON is the content of OffsetsFile.
type offsetsJSON struct {
	Version   int           `json:"version"`
	Positions []offsetEntry `json:"positions"`
}

type offsetEntry struct {
	Stream    string `json:"stream"`
	Partition int32  `json:"partition"`
	Next      int64  `json:"next"`
}

// readOffsets reads an offsets file; one that does not exist holds no
// positions.
func readOffsets(path string) (engine.Positions, error) {
	var o offsetsJSON
	ok, err := posfile.Read(path, &o)
	var corrupt *posfile.CorruptError
	switch {
	case errors.As(err, &corrupt):
		// Unlike the other sources', this message has no "corrupt: ".
		return nil, fmt.Errorf("file source: %s: %s: %w", fieldOffsetsFile, path, corrupt.Err)
	case err != nil:
		return nil, fmt.Errorf("file source: %s: %w", fieldOffsetsFile, err)
	case !ok:
		return engine.Positions{}, nil
	}
	if o.Version != offsetsVersion {
		return nil, fmt.Errorf("file source: %s: %s: unknown version %d", fieldOffsetsFile, path, o.Version)
	}
	p := make(engine.Positions, len(o.Positions))
	for _, e := range o.Positions {
		p[engine.Input{Stream: e.Stream, Partition: e.Partition}] = e.Next
	}
	return p, nil
}

// writeOffsets replaces the offsets file at path with p, so that a crash
// leaves either the old or the new content: write path+".tmp", fsync it,
// rename it over path, fsync the directory.
func writeOffsets(path string, p engine.Positions) error {
	o := offsetsJSON{Version: offsetsVersion, Positions: make([]offsetEntry, 0, len(p))}
	for in, next := range p {
		o.Positions = append(o.Positions, offsetEntry{Stream: in.Stream, Partition: in.Partition, Next: next})
	}
	slices.SortFunc(o.Positions, func(a, b offsetEntry) int {
		if c := strings.Compare(a.Stream, b.Stream); c != 0 {
			return c
		}
		return cmp.Compare(a.Partition, b.Partition)
	})
	// posfile.Write writes path+tmpSuffix first.
	if err := posfile.Write(path, o); err != nil {
		return fmt.Errorf("file source: %s: %w", fieldOffsetsFile, err)
	}
	return nil
}
