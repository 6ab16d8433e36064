//! The addresses paasd hands out, as clients reach them: the public host (from
//! `PAAS_PUBLIC_URL`) and the control API's URL for processes on this host.

/// The host part of `PAAS_PUBLIC_URL` (`http://host:port/` → `host`): clients reach the
/// TLS port there too.
pub(crate) fn public_host(public_url: &str) -> String {
    let rest = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if let Some(v6) = authority.strip_prefix('[') {
        return format!("[{}]", v6.split(']').next().unwrap_or(v6));
    }
    authority.split(':').next().unwrap_or(authority).to_owned()
}

/// The API as processes on this host reach it.
pub(crate) fn local_url(addr: std::net::SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    };
    format!("http://{host}:{}", addr.port())
}

#[cfg(test)]
mod tests {
    use super::public_host;

    #[test]
    fn the_public_host_is_the_host_of_the_public_url() {
        assert_eq!(public_host("http://127.0.0.1:5000"), "127.0.0.1");
        assert_eq!(public_host("https://paas.example.com/"), "paas.example.com");
        assert_eq!(public_host("http://user@host:1/x"), "host");
        assert_eq!(public_host("http://[::1]:5000"), "[::1]");
    }
}
