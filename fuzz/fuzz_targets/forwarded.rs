//! The forwarding headers a trusted proxy passes on, and the proxy settings' address blocks:
//! no panic, and the client found is the peer or an address the headers name.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use orderdesk::domain::net::{IpNet, client_address, limit_key};

fuzz_target!(|input: (&str, &str, &str)| {
    let (block, forwarded, x_forwarded_for) = input;
    let _ = IpNet::parse(block);
    let proxies = [IpNet::parse("10.0.0.0/8").unwrap(), IpNet::parse("::1").unwrap()];
    let peer: IpAddr = "10.0.0.1".parse().unwrap();
    let client = client_address(peer, &[forwarded], &[x_forwarded_for], &proxies);
    let _ = limit_key(client);
    let untrusted: IpAddr = "192.0.2.1".parse().unwrap();
    assert_eq!(client_address(untrusted, &[forwarded], &[x_forwarded_for], &proxies), untrusted);
});
