use std::net::SocketAddr;

use super::connect;
use super::exit;
use crate::sim::{self, SimConfig};

/// Serves the built-in Cloud Recording simulator until Ctrl-C.
///
/// It accepts App ID 0123456789abcdef0123456789abcdef with customer ID
/// `demo-customer` and secret `demo-secret`.
///
/// Example: recplan sim --listen 127.0.0.1:8080
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

pub fn run(args: &Args) -> u8 {
    let Some(runtime) = connect::runtime() else {
        return exit::FAILED;
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(listener) => listener,
            Err(error) => {
                errln!("error: cannot listen on {}: {error}", args.listen);
                return exit::FAILED;
            }
        };
        let address = listener.local_addr().map_or_else(|_| args.listen.to_string(), |a| a.to_string());
        errln!(
            "simulator listening on http://{address} (app id {}, customer {} / {}); Ctrl-C stops it",
            sim::DEMO_APP_ID,
            sim::DEMO_CUSTOMER_ID,
            sim::DEMO_CUSTOMER_SECRET
        );
        let config = SimConfig { listen: args.listen, ..SimConfig::default() };
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match sim::serve(listener, config, shutdown).await {
            Ok(()) => exit::OK,
            Err(error) => {
                errln!("error: {error}");
                exit::FAILED
            }
        }
    })
}
