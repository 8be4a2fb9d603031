//! Several services on one server, told apart by the `Service:` prefix of
//! their method names: the server side of Apache's `TMultiplexedProtocol`
//! (`TMultiplexedProcessor`).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use crate::codec::{Binary, Compact, Protocol};
use crate::protocol::{ApplicationException, ApplicationExceptionKind};
use crate::service::{CallContext, Dispatch, MethodKind, exception_reply};
use crate::transport::ProtocolKind;

type Reply<'a> = Pin<Box<dyn Future<Output = Option<Bytes>> + Send + 'a>>;
/// What `Dispatch::receive_callback` answers, boxed.
type Taken<'a> = Pin<Box<dyn Future<Output = Option<Result<(), String>>> + Send + 'a>>;

/// A [`Dispatch`] with its protocol chosen at run time, so that services
/// of different types can share one table.
trait DynDispatch: Send + Sync + 'static {
    fn method_kind(&self, method: &str) -> Option<MethodKind>;
    fn receive_callback_in<'a>(&'a self, protocol: ProtocolKind, cx: &'a CallContext, message: Bytes) -> Taken<'a>;
    fn dispatch_in<'a>(
        &'a self,
        protocol: ProtocolKind,
        cx: &'a CallContext,
        frame: Bytes,
        args_at: usize,
    ) -> Reply<'a>;
}

impl<D: Dispatch> DynDispatch for D {
    fn method_kind(&self, method: &str) -> Option<MethodKind> {
        Dispatch::method_kind(self, method)
    }

    fn receive_callback_in<'a>(&'a self, protocol: ProtocolKind, cx: &'a CallContext, message: Bytes) -> Taken<'a> {
        match protocol {
            ProtocolKind::Binary => Box::pin(self.receive_callback::<Binary>(cx, message)),
            ProtocolKind::Compact => Box::pin(self.receive_callback::<Compact>(cx, message)),
        }
    }

    fn dispatch_in<'a>(
        &'a self,
        protocol: ProtocolKind,
        cx: &'a CallContext,
        frame: Bytes,
        args_at: usize,
    ) -> Reply<'a> {
        match protocol {
            ProtocolKind::Binary => Box::pin(self.dispatch::<Binary>(cx, frame, args_at)),
            ProtocolKind::Compact => Box::pin(self.dispatch::<Compact>(cx, frame, args_at)),
        }
    }
}

/// Routes `Service:method` calls to the dispatcher registered as
/// `Service`, and calls without a prefix to the default dispatcher, if
/// any, as Apache's `TMultiplexedProcessor` does. Replies carry the bare
/// method name, as Apache's processors write them (and its clients check).
/// A call naming an unknown service gets an `UNKNOWN_METHOD` exception.
///
/// ```
/// use mu2sls::{Dispatch, MethodKind, Multiplexer};
/// # use mu2sls::{CallContext, codec::Protocol};
/// # use bytes::Bytes;
/// # struct Calculator;
/// # impl Dispatch for Calculator {
/// #     fn method_kind(&self, m: &str) -> Option<MethodKind> { (m == "add").then_some(MethodKind::Call) }
/// #     async fn dispatch<P: Protocol>(&self, _: &CallContext, _: Bytes, _: usize) -> Option<Bytes> { None }
/// # }
/// # struct Logger;
/// # impl Dispatch for Logger {
/// #     fn method_kind(&self, m: &str) -> Option<MethodKind> { (m == "log").then_some(MethodKind::Oneway) }
/// #     async fn dispatch<P: Protocol>(&self, _: &CallContext, _: Bytes, _: usize) -> Option<Bytes> { None }
/// # }
/// let calculator = std::sync::Arc::new(Calculator);
/// let mux = Multiplexer::new()
///     .service("Calculator", calculator.clone())
///     .service("Logger", Logger)
///     .default_service(calculator);
/// assert_eq!(mux.route_kind(Some("Logger"), "log"), Some(MethodKind::Oneway));
/// assert_eq!(mux.route_kind(None, "add"), Some(MethodKind::Call));
/// assert_eq!(mux.route_kind(Some("Calculator"), "log"), None);
/// assert_eq!(mux.route_kind(Some("Nobody"), "add"), None);
/// ```
#[derive(Default)]
pub struct Multiplexer {
    services: HashMap<String, Box<dyn DynDispatch>>,
    default: Option<Box<dyn DynDispatch>>,
}

impl fmt::Debug for Multiplexer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.services.keys().collect();
        names.sort();
        f.debug_struct("Multiplexer").field("services", &names).field("default", &self.default.is_some()).finish()
    }
}

impl Multiplexer {
    /// A multiplexer serving nothing yet.
    pub fn new() -> Multiplexer {
        Multiplexer::default()
    }

    /// Serves `dispatch` as `name` (replacing a service of that name).
    pub fn service(mut self, name: impl Into<String>, dispatch: impl Dispatch) -> Multiplexer {
        self.services.insert(name.into(), Box::new(dispatch));
        self
    }

    /// Serves calls without a `Service:` prefix with `dispatch`, so that
    /// clients from before multiplexing keep working. Share one dispatcher
    /// with a named service through an `Arc`.
    pub fn default_service(mut self, dispatch: impl Dispatch) -> Multiplexer {
        self.default = Some(Box::new(dispatch));
        self
    }

    fn route(&self, service: Option<&str>) -> Option<&dyn DynDispatch> {
        match service {
            Some(name) => self.services.get(name).map(|d| &**d),
            None => self.default.as_deref(),
        }
    }
}

impl Dispatch for Multiplexer {
    fn method_kind(&self, method: &str) -> Option<MethodKind> {
        self.route_kind(None, method)
    }

    fn route_kind(&self, service: Option<&str>, method: &str) -> Option<MethodKind> {
        self.route(service)?.method_kind(method)
    }

    /// A callback goes to the service its message's `Service:` prefix
    /// names (our callees name the caller's service so), else to the
    /// default service.
    fn receive_callback<P: Protocol>(
        &self,
        cx: &CallContext,
        message: Bytes,
    ) -> impl Future<Output = Option<Result<(), String>>> + Send {
        let target = self.route(cx.service());
        async move {
            match target {
                Some(d) => d.receive_callback_in(P::KIND, cx, message).await,
                None => None,
            }
        }
    }

    fn dispatch<P: Protocol>(
        &self,
        cx: &CallContext,
        frame: Bytes,
        args_at: usize,
    ) -> impl Future<Output = Option<Bytes>> + Send {
        let target = self.route(cx.service());
        async move {
            match target {
                Some(d) => d.dispatch_in(P::KIND, cx, frame, args_at).await,
                None => {
                    let e = ApplicationException::new(
                        ApplicationExceptionKind::UNKNOWN_METHOD,
                        format!("unknown service `{}`", cx.service().unwrap_or("")),
                    );
                    Some(exception_reply::<P>(cx, &e))
                }
            }
        }
    }
}
