//! The one kernel interface question handoff asks itself (af_packet's frame
//! size follows it): an interface's MTU, by ioctl in the caller's network
//! namespace, where net_af_packet will look the interface up too.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The MTU of interface `name`, or None when there is no such interface
/// (or the name does not fit IFNAMSIZ with its NUL).
pub fn interface_mtu(name: &str) -> Option<u32> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return None;
    }
    // SAFETY: socket has no memory preconditions; a negative result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns; OwnedFd closes it.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data (a name and a union of integers); all zeros is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFMTU reads the NUL-terminated name (checked shorter than
    // IFNAMSIZ, the rest zero) and writes ifru_mtu inside `req`, which lives
    // through the call.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFMTU, &mut req) };
    if rc != 0 {
        return None;
    }
    // SAFETY: the ioctl succeeded, so it wrote the mtu member of the union.
    let mtu = unsafe { req.ifr_ifru.ifru_mtu };
    u32::try_from(mtu).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_has_an_mtu_and_odd_names_none() {
        assert!(super::interface_mtu("lo").is_some_and(|m| m >= 1500));
        for bad in ["", "no-such-if-here", "abcdefghijklmnop", "a\0b"] {
            assert_eq!(super::interface_mtu(bad), None, "{bad:?}");
        }
    }
}
