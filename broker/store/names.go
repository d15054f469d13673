package store

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// MaxTopicNameLength is Kafka's limit on topic names.
const MaxTopicNameLength = 249

// maxFileName is the longest file name most file systems accept.
const maxFileName = 255

// Suffixes of directories that no longer belong to a partition.
const (
	deleteSuffix = "-delete" // a deleted partition, removed at once or at the next Open
	straySuffix  = "-stray"  // data that topics.json does not account for; kept
)

// ValidateTopicName checks name against Kafka's rules: 1 to 249 characters
// from [a-zA-Z0-9._-], and neither "." nor "..". The error wraps
// ErrInvalidTopic. (Kafka also warns when a name collides with another once
// '.' and '_' are made equal, for the sake of metric names; runnel has no
// such metrics and accepts both.)
func ValidateTopicName(name string) error {
	why := ""
	switch {
	case name == "":
		why = "it is empty"
	case name == "." || name == "..":
		why = `"." and ".." are not allowed`
	case len(name) > MaxTopicNameLength:
		why = fmt.Sprintf("it is %d characters long, the limit is %d", len(name), MaxTopicNameLength)
	default:
		for i := 0; i < len(name); i++ {
			if c := name[i]; !legalTopicChar(c) {
				why = fmt.Sprintf("character %q at position %d is not one of ASCII letters, digits, '.', '_' and '-'", rune(c), i)
				if c >= 0x80 {
					why = fmt.Sprintf("byte 0x%02x at position %d is not ASCII: only letters, digits, '.', '_' and '-' are allowed", c, i)
				}
				break
			}
		}
	}
	if why != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidTopic, name, why)
	}
	return nil
}

func legalTopicChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// partitionDir is the directory name of a partition, Kafka's
// "<topic>-<partition>".
func partitionDir(topic string, p int) string { return topic + "-" + strconv.Itoa(p) }

// parsePartitionDir splits "<topic>-<partition>" at its last '-'. Because
// a partition number has no '-', the split is unambiguous even for topic
// names that contain '-' followed by digits ("a-1" partition 2 is "a-1-2",
// topic "a" has no partition "1-2"). The store still takes topics.json,
// not directory names, as the truth: this only recognizes leftovers.
func parsePartitionDir(name string) (topic string, p int, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return "", 0, false
	}
	digits := name[i+1:]
	if len(digits) > 1 && digits[0] == '0' || strings.Trim(digits, "0123456789") != "" {
		return "", 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 || ValidateTopicName(name[:i]) != nil {
		return "", 0, false
	}
	return name[:i], n, true
}

// retiredDir is the name a partition directory gets when it leaves service:
// "<topic>-<partition>.<32 hex digits><suffix>", with the topic cut short
// when the whole would not fit a file name, as Kafka does for "-delete".
func retiredDir(topic string, p int, suffix string) string {
	id := NewUUID()
	tail := "-" + strconv.Itoa(p) + "." + hex.EncodeToString(id[:]) + suffix
	return topic[:min(len(topic), maxFileName-len(tail))] + tail
}
