// Package kafkahash places keys on the partitions of the broker's
// internal topics exactly as Kafka does (__consumer_offsets by group id,
// __transaction_state by transactional id), so that a data directory read
// by Kafka's tools finds each key where Kafka would.
package kafkahash

import "unicode/utf16"

// Partition is abs(hashCode(key)) % partitions, where hashCode is Java's
// String.hashCode over the UTF-16 code units and abs maps MinInt32 to 0:
// Kafka's Utils.abs and partitionFor.
func Partition(key string, partitions int) int32 {
	h := JavaStringHash(key)
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % int32(partitions)
}

// JavaStringHash is java.lang.String.hashCode: s[0]*31^(n-1) + ... + s[n-1]
// over UTF-16 code units, in wrapping int32 arithmetic. Invalid UTF-8
// decodes to U+FFFD per bad byte, as Go's conversion does.
func JavaStringHash(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}
