package initagent

import "golang.org/x/sys/unix"

// Mount is one entry of the mount table.
type Mount struct {
	Source, Target, FSType string
	Flags                  uintptr
	Data                   string
}

// baseMounts is the pseudo-filesystem table PID 1 mounts before anything
// else. Debian's kernel does not mount devtmpfs by itself
// (DEVTMPFS_MOUNT is off), so /dev is in the table too.
func baseMounts() []Mount {
	const common = unix.MS_NOSUID | unix.MS_NODEV
	return []Mount{
		{Source: "proc", Target: "/proc", FSType: "proc", Flags: common | unix.MS_NOEXEC},
		{Source: "sysfs", Target: "/sys", FSType: "sysfs", Flags: common | unix.MS_NOEXEC},
		{Source: "devtmpfs", Target: "/dev", FSType: "devtmpfs", Flags: unix.MS_NOSUID, Data: "mode=0755"},
		{Source: "devpts", Target: "/dev/pts", FSType: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=0620"},
		{Source: "tmpfs", Target: "/dev/shm", FSType: "tmpfs", Flags: common, Data: "mode=1777"},
		{Source: "tmpfs", Target: "/run", FSType: "tmpfs", Flags: common, Data: "mode=0755"},
		{Source: "tmpfs", Target: "/tmp", FSType: "tmpfs", Flags: common, Data: "mode=1777"},
	}
}
