//go:build linux

package repo

import (
	"io/fs"
	"syscall"
)

func sourceStat(info fs.FileInfo) *SourceStat {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	return &SourceStat{Inode: uint64(st.Ino), CTime: int64(st.Ctim.Sec)*1e9 + int64(st.Ctim.Nsec)}
}
