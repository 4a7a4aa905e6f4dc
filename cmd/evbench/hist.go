package main

import (
	"math/bits"
	"time"
)

// hist is a log-linear latency histogram: values below 128 ns are exact, above that each power of two is cut
// into 64 buckets, so a bucket is at most 1/64 (1.6 %) of its value wide. Every connection fills its own
// histogram (no sharing on the hot path) and they are merged once at the end. A fixed array keeps add
// allocation-free; 2 688 buckets cover every value below 2^47 ns (39 hours).
type hist struct {
	counts [histBuckets]uint64
	total  uint64
}

const (
	histSubBits = 6 // 64 sub-buckets per power of two
	histBuckets = 40<<histSubBits + 2<<histSubBits
)

func histIndex(ns uint64) int {
	shift := bits.Len64(ns) - (histSubBits + 1)
	if shift <= 0 {
		return int(ns)
	}
	idx := shift<<histSubBits + int(ns>>uint(shift))
	if idx >= histBuckets {
		return histBuckets - 1
	}
	return idx
}

// histValue is the middle of bucket idx: the inverse of histIndex, up to the bucket's width.
func histValue(idx int) uint64 {
	if idx < 2<<histSubBits {
		return uint64(idx)
	}
	shift := idx>>histSubBits - 1
	mantissa := uint64(idx - shift<<histSubBits)
	lo := mantissa << uint(shift)
	return lo + (uint64(1)<<uint(shift))/2
}

func (h *hist) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histIndex(uint64(d))]++
	h.total++
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

// quantile returns the value below which a fraction q of the samples fall (0 when there are none).
func (h *hist) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q * float64(h.total))
	if rank >= h.total {
		rank = h.total - 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen > rank {
			return time.Duration(histValue(i))
		}
	}
	return time.Duration(histValue(histBuckets - 1))
}
