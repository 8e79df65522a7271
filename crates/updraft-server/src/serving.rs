//! The listening socket's side of serving: the TLS configuration, and the
//! accept loop over plain HTTP or TLS with the connection time limits
//! (`conn_limits`) either way.

use anyhow::Context;
use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use axum::Router;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use futures::future::BoxFuture;

use crate::config::Config;
use crate::conn_limits;

/// The router as a service that knows each connection's peer address.
pub(crate) type App = IntoMakeServiceWithConnectInfo<Router, std::net::SocketAddr>;

/// Loads the certificate and key when the configuration names both; `None`
/// serves plain HTTP.
pub(crate) async fn load_tls(config: &Config) -> anyhow::Result<Option<RustlsConfig>> {
    let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) else {
        return Ok(None);
    };
    // Already installed (a second server in this process) is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = RustlsConfig::from_pem_file(cert, key)
        .await
        .with_context(|| {
            format!(
                "cannot load TLS certificate {} / key {}",
                cert.display(),
                key.display()
            )
        })?;
    Ok(Some(tls))
}

/// Serves `app` on `listener` until `handle` shuts it down: the first byte
/// (and the TLS handshake) within the header timeout, HTTP settings from
/// `config`.
pub(crate) fn serve(
    listener: std::net::TcpListener,
    tls: Option<RustlsConfig>,
    app: App,
    handle: axum_server::Handle,
    config: &Config,
) -> BoxFuture<'static, std::io::Result<()>> {
    let deadline = config.limits.header_timeout;
    let stall = conn_limits::write_stall(config);
    match tls {
        Some(tls) => {
            let acceptor = conn_limits::FirstByteDeadline {
                inner: RustlsAcceptor::new(tls)
                    .handshake_timeout(deadline)
                    .acceptor(NoDelayAcceptor::new()),
                deadline,
                stall,
            };
            let mut server = axum_server::from_tcp(listener)
                .acceptor(acceptor)
                .handle(handle);
            conn_limits::configure(server.http_builder(), config);
            Box::pin(server.serve(app))
        }
        None => {
            let acceptor = conn_limits::FirstByteDeadline {
                inner: NoDelayAcceptor::new(),
                deadline,
                stall,
            };
            let mut server = axum_server::from_tcp(listener)
                .acceptor(acceptor)
                .handle(handle);
            conn_limits::configure(server.http_builder(), config);
            Box::pin(server.serve(app))
        }
    }
}
