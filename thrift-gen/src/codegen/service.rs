//! Services: the handler trait, the per-method exception enums, the
//! server-side dispatcher and the client.
//!
//! Per method `m` of service `S` the generator emits hidden `SMArgs`
//! (decoded by the server), `SMArgsRef` (borrowed, encoded by the client)
//! and `SMResult` (the result struct: field 0 for success, one field per
//! declared exception), and a public `SMException` enum when the method
//! declares exceptions. `SServer<H>` dispatches inherited methods too, and
//! `SClient` has a method for each of them.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::{Generator, doc_attrs, names};
use crate::model::{BaseType, DefId, Field, Function, Requiredness, Service, Struct, StructKind, Type};

/// One method as seen from the module generating a server or client:
/// the service that declares it and the paths to its helper types.
struct Method<'m> {
    /// The declaring service's program.
    program: usize,
    service: &'m Service,
    function: &'m Function,
}

impl Generator<'_> {
    fn prefix(service: &Service, function: &Function) -> String {
        format!("{}{}", names::type_name(&service.name), names::type_name(&function.name))
    }

    /// A path from `from` to a helper type of `m` (`SMArgs`, ...).
    fn helper_path(&self, from: usize, m: &Method<'_>, suffix: &str) -> TokenStream {
        let ident = format_ident!("{}{}", Self::prefix(m.service, m.function), suffix);
        if m.program == from {
            quote! { #ident }
        } else {
            let module = format_ident!("{}", self.modules[m.program]);
            quote! { super::#module::#ident }
        }
    }

    /// The exception type of a method, as seen from `from`.
    fn exception_type(&self, from: usize, m: &Method<'_>) -> TokenStream {
        if m.function.throws.is_empty() {
            quote! { ::mu2sls::codegen::NoException }
        } else {
            self.helper_path(from, m, "Exception")
        }
    }

    fn success_type(&self, from: usize, f: &Function) -> TokenStream {
        match &f.returns {
            Some(t) => self.rust_type(from, t),
            None => quote! { () },
        }
    }

    /// The methods a service's server and client handle: its own, then
    /// each ancestor's, nearest first.
    fn methods_of<'m>(&'m self, id: DefId) -> Vec<Method<'m>> {
        let mut out = Vec::new();
        let mut next = Some(id);
        let mut seen = std::collections::HashSet::new();
        while let Some(sid) = next {
            if !seen.insert(sid) {
                break; // unreachable: the resolver rejects extends cycles
            }
            let service = self.model.service(sid);
            out.extend(service.functions.iter().map(|function| Method { program: sid.program, service, function }));
            next = service.extends;
        }
        out
    }

    pub(super) fn service(&self, p: usize, id: DefId, s: &Service) -> TokenStream {
        let mut out = TokenStream::new();
        for f in &s.functions {
            out.extend(self.method_types(p, s, f));
        }
        out.extend(self.handler_trait(p, s));
        out.extend(self.server(p, id, s));
        out.extend(self.client(p, id, s));
        out
    }

    /// `SMArgs`, `SMArgsRef`, `SMResult` and `SMException` for one method.
    fn method_types(&self, p: usize, s: &Service, f: &Function) -> TokenStream {
        let prefix = Self::prefix(s, f);
        let args_struct = Struct {
            doc: None,
            kind: StructKind::Struct,
            name: format!("{prefix}Args"),
            fields: f.args.clone(),
            annotations: Vec::new(),
        };
        let mut out = quote! { #[doc(hidden)] };
        out.extend(self.plain_with(p, &args_struct, quote! { #[derive(Debug)] }, TokenStream::new()));
        out.extend(self.args_ref(p, &prefix, &f.args));

        // The result struct.
        let result = format_ident!("{prefix}Result");
        let mut variants = Vec::new();
        let mut encode_arms = Vec::new();
        let mut decode_arms = Vec::new();
        if let Some(ret) = &f.returns {
            let ty = self.rust_type(p, ret);
            let ttype = self.ttype(ret);
            variants.push(quote! { Success(#ty) });
            encode_arms.push(quote! {
                #result::Success(v) => {
                    w.field_begin(#ttype, 0);
                    ::mu2sls::codegen::Encode::encode(v, w);
                }
            });
            decode_arms.push(quote! {
                (0, #ttype) => value = #result::Success(::mu2sls::codegen::Decode::decode(r)?),
            });
        }
        for e in &f.throws {
            let variant = names::ident(&names::type_name(&e.name));
            let ty = self.rust_type(p, &e.ty);
            let id = Literal::i16_unsuffixed(e.id);
            variants.push(quote! { #variant(#ty) });
            encode_arms.push(quote! {
                #result::#variant(v) => {
                    w.field_begin(::mu2sls::codegen::TType::Struct, #id);
                    ::mu2sls::codegen::Encode::encode(v, w);
                }
            });
            decode_arms.push(quote! {
                (#id, ::mu2sls::codegen::TType::Struct) => value = #result::#variant(::mu2sls::codegen::Decode::decode(r)?),
            });
        }
        let binding = if decode_arms.is_empty() {
            quote! { let value }
        } else {
            quote! { let mut value }
        };
        out.extend(quote! {
            #[doc(hidden)]
            #[derive(Debug)]
            pub enum #result {
                #( #variants, )*
                /// No field: the success of a `void` method, or a missing result.
                Empty,
            }

            impl ::mu2sls::codegen::Encode for #result {
                const TTYPE: ::mu2sls::codegen::TType = ::mu2sls::codegen::TType::Struct;
                fn encode<P: ::mu2sls::codegen::Protocol, O: ::mu2sls::codegen::Output>(
                    &self,
                    w: &mut ::mu2sls::codegen::Writer<P, O>,
                ) {
                    w.struct_begin();
                    match self {
                        #( #encode_arms )*
                        #result::Empty => {}
                    }
                    w.struct_end();
                }
            }

            impl ::mu2sls::codegen::Decode for #result {
                fn decode<P: ::mu2sls::codegen::Protocol>(
                    r: &mut ::mu2sls::codegen::Reader<'_, P>,
                ) -> ::std::result::Result<Self, ::mu2sls::codegen::DecodeError> {
                    r.struct_begin()?;
                    #binding = #result::Empty;
                    while let ::std::option::Option::Some((t, id)) = r.field_begin()? {
                        match (id, t) {
                            #( #decode_arms )*
                            _ => r.skip(t)?,
                        }
                    }
                    r.struct_end();
                    ::std::result::Result::Ok(value)
                }
            }
        });

        // The public exception enum.
        if !f.throws.is_empty() {
            let exception = format_ident!("{prefix}Exception");
            let doc = format!(" The declared exceptions of `{}.{}`.", s.name, f.name);
            let variants: Vec<_> = f.throws.iter().map(|e| names::ident(&names::type_name(&e.name))).collect();
            let types: Vec<_> = f.throws.iter().map(|e| self.rust_type(p, &e.ty)).collect();
            out.extend(quote! {
                #[doc = #doc]
                #[derive(Clone, Debug, PartialEq)]
                pub enum #exception {
                    #( #variants(#types), )*
                }

                impl ::std::fmt::Display for #exception {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        match self {
                            #( #exception::#variants(e) => ::std::fmt::Display::fmt(e, f), )*
                        }
                    }
                }

                impl ::std::error::Error for #exception {}

                #(
                    impl ::std::convert::From<#types> for #exception {
                        fn from(e: #types) -> Self {
                            #exception::#variants(e)
                        }
                    }

                    impl ::std::convert::From<#types> for ::mu2sls::codegen::ServiceError<#exception> {
                        fn from(e: #types) -> Self {
                            ::mu2sls::codegen::ServiceError::Exception(#exception::#variants(e))
                        }
                    }
                )*
            });
        }
        out
    }

    /// How a client method takes an argument: scalars and enums by value,
    /// strings as `&str`, binaries as `&[u8]`, the rest by reference. The
    /// pair is (parameter type, field type in `SMArgsRef<'a>`).
    fn borrowed(&self, p: usize, f: &Field) -> (TokenStream, TokenStream, BorrowKind) {
        let ty = self.rust_type(p, &f.ty);
        let (param, field, kind) = match self.model.resolve(&f.ty) {
            Type::Base(BaseType::String) => (quote! { &str }, quote! { &'a str }, BorrowKind::Reference),
            Type::Base(BaseType::Binary) => {
                (quote! { &[u8] }, quote! { ::mu2sls::codegen::BinaryRef<'a> }, BorrowKind::Binary)
            }
            Type::Base(BaseType::Uuid) | Type::List(_) | Type::Set(_) | Type::Map(..) | Type::Struct(_) => {
                (quote! { &#ty }, quote! { &'a #ty }, BorrowKind::Reference)
            }
            _ => (quote! { #ty }, quote! { #ty }, BorrowKind::Value),
        };
        if f.requiredness == Requiredness::Optional {
            (
                quote! { ::std::option::Option<#param> },
                quote! { ::std::option::Option<#field> },
                match kind {
                    BorrowKind::Binary => BorrowKind::OptionalBinary,
                    other => other,
                },
            )
        } else {
            (param, field, kind)
        }
    }

    /// `SMArgsRef<'a>`: the arguments as the client borrows them.
    fn args_ref(&self, p: usize, prefix: &str, args: &[Field]) -> TokenStream {
        let name = format_ident!("{prefix}ArgsRef");
        let idents: Vec<_> = args.iter().map(|f| names::ident(&names::snake_name(&f.name))).collect();
        let fields: Vec<_> = args.iter().map(|f| self.borrowed(p, f).1).collect();
        let writes = args.iter().zip(&idents).map(|(f, ident)| {
            let ttype = self.ttype(&f.ty);
            let id = Literal::i16_unsuffixed(f.id);
            if f.requiredness == Requiredness::Optional {
                quote! {
                    if let ::std::option::Option::Some(v) = &self.#ident {
                        w.field_begin(#ttype, #id);
                        ::mu2sls::codegen::Encode::encode(v, w);
                    }
                }
            } else {
                quote! {
                    w.field_begin(#ttype, #id);
                    ::mu2sls::codegen::Encode::encode(&self.#ident, w);
                }
            }
        });
        let borrows = args.iter().any(|f| self.borrowed(p, f).2 != BorrowKind::Value);
        let generics = if borrows {
            quote! { <'a> }
        } else {
            TokenStream::new()
        };
        quote! {
            #[doc(hidden)]
            pub struct #name #generics {
                #( pub #idents: #fields, )*
            }

            impl #generics ::mu2sls::codegen::Encode for #name #generics {
                const TTYPE: ::mu2sls::codegen::TType = ::mu2sls::codegen::TType::Struct;
                fn encode<P: ::mu2sls::codegen::Protocol, O: ::mu2sls::codegen::Output>(
                    &self,
                    w: &mut ::mu2sls::codegen::Writer<P, O>,
                ) {
                    w.struct_begin();
                    #( #writes )*
                    w.struct_end();
                }
            }
        }
    }

    fn handler_trait(&self, p: usize, s: &Service) -> TokenStream {
        let doc = doc_attrs(&s.doc);
        let name = names::ident(&names::type_name(&s.name));
        let parent = match s.extends {
            Some(id) => {
                let path = self.def_path(p, id, &self.model.service(id).name);
                quote! { #path + }
            }
            None => TokenStream::new(),
        };
        let methods = s.functions.iter().map(|f| {
            let doc = doc_attrs(&f.doc);
            let method = names::ident(&names::snake_name(&f.name));
            let params = f.args.iter().map(|a| {
                let ident = names::ident(&names::snake_name(&a.name));
                let ty = self.field_type(p, a);
                quote! { #ident: #ty }
            });
            let ok = self.success_type(p, f);
            let m = Method { program: p, service: s, function: f };
            let err = self.exception_type(p, &m);
            quote! {
                #doc
                fn #method(
                    &self,
                    cx: &::mu2sls::codegen::CallContext,
                    #( #params, )*
                ) -> impl ::std::future::Future<
                    Output = ::std::result::Result<#ok, ::mu2sls::codegen::ServiceError<#err>>,
                > + ::std::marker::Send;
            }
        });
        quote! {
            #doc
            pub trait #name: #parent ::std::marker::Send + ::std::marker::Sync + 'static {
                #( #methods )*
            }
        }
    }

    fn server(&self, p: usize, id: DefId, s: &Service) -> TokenStream {
        let trait_name = names::ident(&names::type_name(&s.name));
        let server = format_ident!("{}Server", names::type_name(&s.name));
        let doc = format!(" Serves a [`{trait_name}`] handler: give it to `mu2sls::Server::serve`.");
        let methods = self.methods_of(id);
        let kinds = methods.iter().map(|m| {
            let wire = m.function.name.as_str();
            if m.function.oneway {
                quote! { #wire => ::std::option::Option::Some(::mu2sls::codegen::MethodKind::Oneway), }
            } else {
                quote! { #wire => ::std::option::Option::Some(::mu2sls::codegen::MethodKind::Call), }
            }
        });
        let arms = methods.iter().map(|m| {
            let wire = m.function.name.as_str();
            let args_ty = self.helper_path(p, m, "Args");
            let result_ty = self.helper_path(p, m, "Result");
            let declaring = self.def_path(p, self.service_id(m), &m.service.name);
            let method = names::ident(&names::snake_name(&m.function.name));
            let arg_idents: Vec<_> =
                m.function.args.iter().map(|a| names::ident(&names::snake_name(&a.name))).collect();
            let call = quote! { <H as #declaring>::#method(&self.handler, &cx, #( args.#arg_idents ),*).await };
            let decode = quote! {
                let args = match ::mu2sls::codegen::decode_args::<P, #args_ty>(&frame, args_at) {
                    ::std::result::Result::Ok(a) => a,
                    ::std::result::Result::Err(e) => {
                        return ::std::option::Option::Some(::mu2sls::codegen::protocol_error_reply::<P>(&cx, &e));
                    }
                };
            };
            if m.function.oneway {
                return quote! {
                    #wire => {
                        let args = match ::mu2sls::codegen::decode_args::<P, #args_ty>(&frame, args_at) {
                            ::std::result::Result::Ok(a) => a,
                            ::std::result::Result::Err(_) => return ::std::option::Option::None,
                        };
                        let _ = #call;
                        ::std::option::Option::None
                    }
                };
            }
            let ok = if m.function.returns.is_some() {
                quote! { ::std::result::Result::Ok(v) => #result_ty::Success(v), }
            } else {
                quote! { ::std::result::Result::Ok(()) => #result_ty::Empty, }
            };
            let exceptions = if m.function.throws.is_empty() {
                quote! { ::std::result::Result::Err(::mu2sls::codegen::ServiceError::Exception(e)) => match e {}, }
            } else {
                let exc = self.helper_path(p, m, "Exception");
                let variants: Vec<_> =
                    m.function.throws.iter().map(|e| names::ident(&names::type_name(&e.name))).collect();
                quote! {
                    #(
                        ::std::result::Result::Err(::mu2sls::codegen::ServiceError::Exception(#exc::#variants(e))) => {
                            #result_ty::#variants(e)
                        }
                    )*
                }
            };
            quote! {
                #wire => {
                    #decode
                    let result = match #call {
                        #ok
                        #exceptions
                        ::std::result::Result::Err(::mu2sls::codegen::ServiceError::Application(e)) => {
                            return ::std::option::Option::Some(::mu2sls::codegen::exception_reply::<P>(&cx, &e));
                        }
                    };
                    ::std::option::Option::Some(::mu2sls::codegen::reply::<P, #result_ty>(&cx, &result))
                }
            }
        });
        quote! {
            #[doc = #doc]
            #[derive(Clone, Debug)]
            pub struct #server<H> {
                handler: H,
            }

            impl<H: #trait_name> #server<H> {
                /// A dispatcher for `handler`.
                pub fn new(handler: H) -> Self {
                    #server { handler }
                }

                /// The handler.
                pub fn handler(&self) -> &H {
                    &self.handler
                }
            }

            impl<H: #trait_name> ::mu2sls::codegen::Dispatch for #server<H> {
                fn method_kind(&self, method: &str) -> ::std::option::Option<::mu2sls::codegen::MethodKind> {
                    match method {
                        #( #kinds )*
                        _ => ::std::option::Option::None,
                    }
                }

                #[allow(unreachable_code, unused_variables)]
                fn dispatch<P: ::mu2sls::codegen::Protocol>(
                    &self,
                    cx: ::mu2sls::codegen::CallContext,
                    frame: ::mu2sls::codegen::Bytes,
                    args_at: usize,
                ) -> impl ::std::future::Future<Output = ::std::option::Option<::mu2sls::codegen::Bytes>> + ::std::marker::Send {
                    async move {
                        match cx.method() {
                            #( #arms )*
                            other => {
                                let e = ::mu2sls::codegen::ApplicationException::new(
                                    ::mu2sls::codegen::ApplicationExceptionKind::UNKNOWN_METHOD,
                                    ::std::format!("unknown method `{other}`"),
                                );
                                ::std::option::Option::Some(::mu2sls::codegen::exception_reply::<P>(&cx, &e))
                            }
                        }
                    }
                }
            }
        }
    }

    fn service_id(&self, m: &Method<'_>) -> DefId {
        let index =
            self.model.programs[m.program].services.iter().position(|s| std::ptr::eq(s, m.service)).unwrap_or_default();
        DefId { program: m.program, index }
    }

    fn client(&self, p: usize, id: DefId, s: &Service) -> TokenStream {
        let client = format_ident!("{}Client", names::type_name(&s.name));
        let doc = format!(" A client of `{}`: each method sends one call over the channel.", s.name);
        let methods = self.methods_of(id).into_iter().map(|m| {
            let f = m.function;
            let doc = doc_attrs(&f.doc);
            let method = names::ident(&names::snake_name(&f.name));
            let wire = f.name.as_str();
            let args_ref = self.helper_path(p, &m, "ArgsRef");
            let result_ty = self.helper_path(p, &m, "Result");
            let mut params = Vec::new();
            let mut inits = Vec::new();
            for a in &f.args {
                let ident = names::ident(&names::snake_name(&a.name));
                let (param, _, kind) = self.borrowed(p, a);
                params.push(quote! { #ident: #param });
                inits.push(match kind {
                    BorrowKind::Binary => quote! { #ident: ::mu2sls::codegen::BinaryRef(#ident) },
                    BorrowKind::OptionalBinary => quote! { #ident: #ident.map(::mu2sls::codegen::BinaryRef) },
                    BorrowKind::Value | BorrowKind::Reference => quote! { #ident },
                });
            }
            let err = self.exception_type(p, &m);
            if f.oneway {
                return quote! {
                    #doc
                    pub async fn #method(&self, #( #params ),*) -> ::std::result::Result<(), ::mu2sls::codegen::CallError<#err>> {
                        let args = #args_ref { #( #inits ),* };
                        self.channel.call_oneway(#wire, &args).await?;
                        ::std::result::Result::Ok(())
                    }
                };
            }
            let ok_ty = self.success_type(p, f);
            let mut arms = Vec::new();
            if f.returns.is_some() {
                arms.push(quote! { #result_ty::Success(v) => ::std::result::Result::Ok(v), });
                arms.push(quote! {
                    #result_ty::Empty => ::std::result::Result::Err(::mu2sls::codegen::CallError::Application(
                        ::mu2sls::codegen::missing_result(#wire),
                    )),
                });
            } else {
                arms.push(quote! { #result_ty::Empty => ::std::result::Result::Ok(()), });
            }
            if !f.throws.is_empty() {
                let exc = self.helper_path(p, &m, "Exception");
                for e in &f.throws {
                    let variant = names::ident(&names::type_name(&e.name));
                    arms.push(quote! {
                        #result_ty::#variant(e) => ::std::result::Result::Err(
                            ::mu2sls::codegen::CallError::Exception(#exc::#variant(e)),
                        ),
                    });
                }
            }
            quote! {
                #doc
                pub async fn #method(&self, #( #params ),*) -> ::std::result::Result<#ok_ty, ::mu2sls::codegen::CallError<#err>> {
                    let args = #args_ref { #( #inits ),* };
                    let reply = self.channel.call(#wire, &args).await?;
                    match reply.result::<#result_ty, #err>()? {
                        #( #arms )*
                    }
                }
            }
        });
        quote! {
            #[doc = #doc]
            #[derive(Clone, Debug)]
            pub struct #client {
                channel: ::mu2sls::codegen::Channel,
            }

            impl #client {
                /// A client sending its calls over `channel`.
                pub fn new(channel: ::mu2sls::codegen::Channel) -> Self {
                    #client { channel }
                }

                #( #methods )*
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BorrowKind {
    Value,
    Reference,
    Binary,
    OptionalBinary,
}
