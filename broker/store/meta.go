package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/runnel-io/runnel/internal/fsutil"
)

const (
	metaFile    = "meta.properties"
	metaVersion = 1
)

// identity is the content of meta.properties.
type identity struct {
	clusterID UUID
	nodeID    int32
}

func (id identity) marshal() []byte {
	return fmt.Appendf(nil, "#\n# Written by runnel when the data directory was created. Do not edit:\n"+
		"# runnel checks it at every start.\n#\nversion=%d\ncluster.id=%s\nnode.id=%d\n",
		metaVersion, id.clusterID, id.nodeID)
}

// parseMeta parses meta.properties: Java properties syntax as Kafka writes
// it ("key=value" lines, '#' and '!' comments, blank lines), with
// version=1, a cluster.id and a node.id. Other keys (Kafka's directory.id)
// are accepted and ignored. Errors are *CorruptError with the line.
func parseMeta(path string, data []byte) (identity, error) {
	var id identity
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' || text[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(text, "=")
		if !ok {
			return id, corruptf(path, line, "%q is not a key=value line", text)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if prev, dup := seen[k]; dup {
			return id, corruptf(path, line, "%s is set a second time (first on line %d)", k, prev)
		}
		seen[k] = line
		switch k {
		case "version":
			if v != strconv.Itoa(metaVersion) {
				return id, corruptf(path, line, "version=%s: this runnel reads version %d only", v, metaVersion)
			}
		case "cluster.id":
			u, err := ParseUUID(v)
			if err != nil {
				return id, corruptf(path, line, "cluster.id: %v", err)
			}
			id.clusterID = u
		case "node.id":
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil || n < 0 {
				return id, corruptf(path, line, "node.id=%s: want a non-negative integer", v)
			}
			id.nodeID = int32(n)
		}
	}
	if err := sc.Err(); err != nil {
		return id, corruptf(path, line+1, "%v", err)
	}
	for _, k := range []string{"version", "cluster.id", "node.id"} {
		if seen[k] == 0 {
			return id, corruptf(path, 0, "%s is missing", k)
		}
	}
	return id, nil
}

// loadIdentity reads meta.properties, or creates it when the directory
// holds no runnel data yet (fresh says whether it does not). A node.id other
// than want is an error: the directory belongs to another broker.
func loadIdentity(dir string, want int32, fresh bool) (identity, error) {
	path := filepath.Join(dir, metaFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if !fresh {
			return identity{}, corruptf(path, 0, "missing, but the directory holds runnel data (topics.json or partition directories); "+
				"restore the file, or start from an empty directory")
		}
		id := identity{clusterID: NewUUID(), nodeID: want}
		return id, fsutil.WriteFileAtomic(dir, metaFile, id.marshal())
	}
	if err != nil {
		return identity{}, err
	}
	id, err := parseMeta(path, data)
	if err != nil {
		return id, err
	}
	if id.nodeID != want {
		line := lineOf(data, "node.id")
		return id, corruptf(path, line, "node.id=%d, but this broker is node %d: the directory belongs to another node", id.nodeID, want)
	}
	return id, nil
}

// lineOf is the 1-based number of the first line of data that sets key.
func lineOf(data []byte, key string) int {
	for i, l := range strings.Split(string(data), "\n") {
		if k, _, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == key {
			return i + 1
		}
	}
	return 0
}
