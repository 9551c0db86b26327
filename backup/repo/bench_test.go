package repo

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	chunkers "github.com/PlakarKorp/go-cdc-chunkers"
)

// The figures behind the choices in config.go, crypto.go and snapshot.go:
//
//	go test -run XXX -bench . ./backup/repo/

func BenchmarkIDHash(b *testing.B) {
	data := content(1, 512<<10, false)
	key := bytes.Repeat([]byte{7}, 32)
	for _, algo := range []string{idHashHMACSHA256, idHashBLAKE3} {
		b.Run(algo, func(b *testing.B) {
			newHash, err := newIDHash(algo, key)
			if err != nil {
				b.Fatal(err)
			}
			h := newHash()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				h.Reset()
				h.Write(data)
				h.Sum(nil)
			}
		})
	}
}

// BenchmarkCutPoints is FastCDC finding the cut points of 64 MiB, half
// text and half random, with the average and max of new repositories and
// three minimum sizes.
func BenchmarkCutPoints(b *testing.B) {
	data := append(content(2, 32<<20, true), content(3, 32<<20, false)...)
	for _, min := range []int{256 << 10, 384 << 10, ChunkMin} {
		b.Run(fmt.Sprintf("min=%dKiB", min>>10), func(b *testing.B) {
			c, err := chunkers.NewChunkerBuffer(chunkAlgorithm, nil, &chunkers.ChunkerOpts{
				MinSize: min, NormalSize: ChunkAvg, MaxSize: ChunkMax, Key: bytes.Repeat([]byte{7}, 32),
			}, make([]byte, chunkerBufferSize(ChunkMax)))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				c.Reset(&byteReader{b: data})
				for {
					if _, err := c.Next(); err == io.EOF {
						break
					}
				}
			}
		})
	}
}

// BenchmarkTreeDecode decodes the tree of 10,000 files, as the next
// backup does with its parent's before it reads any file.
func BenchmarkTreeDecode(b *testing.B) {
	var t Tree
	for i := range 10000 {
		t.Nodes = append(t.Nodes, Node{Path: fmt.Sprintf("small/%02d/f%05d", i%100, i), Type: TypeFile, Mode: 0o644, Size: 8000,
			MTime: time.Unix(1700000000, int64(i)), Chunks: []ID{{byte(i)}, {byte(i >> 8)}}, Offset: int64(i * 100),
			Source: &SourceStat{Inode: uint64(i), CTime: 1700000000}})
	}
	var js, gb bytes.Buffer
	if err := json.NewEncoder(&js).Encode(t); err != nil {
		b.Fatal(err)
	}
	if err := gob.NewEncoder(&gb).Encode(t); err != nil {
		b.Fatal(err)
	}
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			var out Tree
			if err := json.Unmarshal(js.Bytes(), &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gob", func(b *testing.B) {
		for b.Loop() {
			var out Tree
			if err := gob.NewDecoder(bytes.NewReader(gb.Bytes())).Decode(&out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
