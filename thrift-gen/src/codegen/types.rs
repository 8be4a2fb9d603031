//! Structs, unions and exceptions: the Rust types and their codec impls.
//!
//! - `required` and default-requiredness fields are plain `T`, initialised
//!   from the IDL default; `optional` fields are `Option<T>`.
//! - A field that holds its own struct by value (directly or through other
//!   structs) is boxed; containers already are on the heap.
//! - Unions are Rust enums with an `Unknown` variant for a member this
//!   version of the IDL does not know (or none at all).
//! - Exceptions also implement `Display` and `std::error::Error`.
//!
//! The encode and decode bodies only call the runtime's `Writer`/`Reader`
//! primitives and `Encode`/`Decode` impls: the wire format lives in the
//! runtime, never here.

use std::collections::HashMap;

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::{Generator, doc_attrs, names};
use crate::model::{BaseType, DefId, Field, Requiredness, Struct, StructKind, Type};

impl Generator<'_> {
    /// The wire type of `ty` as a `TType` path.
    pub(super) fn ttype(&self, ty: &Type) -> TokenStream {
        let variant = match self.model.resolve(ty) {
            Type::Base(b) => match b {
                BaseType::Bool => "Bool",
                BaseType::I8 => "I8",
                BaseType::I16 => "I16",
                BaseType::I32 => "I32",
                BaseType::I64 => "I64",
                BaseType::Double => "Double",
                BaseType::String | BaseType::Binary => "Binary",
                BaseType::Uuid => "Uuid",
            },
            Type::List(_) => "List",
            Type::Set(_) => "Set",
            Type::Map(..) => "Map",
            Type::Struct(_) => "Struct",
            Type::Enum(_) => "I32",
            Type::Typedef(_) => "Struct", // unreachable: `resolve` follows typedefs
        };
        let variant = format_ident!("{variant}");
        quote! { ::mu2sls::codegen::TType::#variant }
    }

    /// The Rust type of a field: boxed if recursive, `Option` if optional.
    pub(super) fn field_type(&self, p: usize, f: &Field) -> TokenStream {
        let mut ty = self.rust_type(p, &f.ty);
        if f.recursive {
            ty = quote! { ::std::boxed::Box<#ty> };
        }
        if f.requiredness == Requiredness::Optional {
            ty = quote! { ::std::option::Option<#ty> };
        }
        ty
    }

    /// The value a field has when nothing set it: its IDL default, else the
    /// type's default (`None` for an optional field without one).
    fn field_default(&self, p: usize, f: &Field) -> TokenStream {
        let value = match &f.default {
            Some(v) => {
                let e = self.value_expr(p, &f.ty, v);
                if f.recursive {
                    quote! { ::std::boxed::Box::new(#e) }
                } else {
                    e
                }
            }
            None if f.requiredness == Requiredness::Optional => return quote! { ::std::option::Option::None },
            None => return quote! { ::std::default::Default::default() },
        };
        if f.requiredness == Requiredness::Optional {
            quote! { ::std::option::Option::Some(#value) }
        } else {
            value
        }
    }

    pub(super) fn structure(&self, p: usize, id: DefId, s: &Struct, traits: &TraitTable) -> TokenStream {
        let mut out =
            if s.kind == StructKind::Union { self.union(p, id, s, traits) } else { self.plain(p, id, s, traits) };
        if self.options.apache_compat {
            let name = names::ident(&names::type_name(&s.name));
            out.extend(quote! {
                impl ::mu2sls::codegen::apache::TSerializable for #name {
                    fn read_from_in_protocol(
                        i: &mut dyn ::mu2sls::codegen::apache::TInputProtocol,
                    ) -> ::mu2sls::codegen::apache::Result<Self> {
                        ::mu2sls::codegen::apache::read(i)
                    }
                    fn write_to_out_protocol(
                        &self,
                        o: &mut dyn ::mu2sls::codegen::apache::TOutputProtocol,
                    ) -> ::mu2sls::codegen::apache::Result<()> {
                        ::mu2sls::codegen::apache::write(self, o)
                    }
                }
            });
        }
        out
    }

    fn plain(&self, p: usize, id: DefId, s: &Struct, traits: &TraitTable) -> TokenStream {
        let derives = traits.derives(id, self.options.btree);
        let serde = self.serde_attrs(false);
        self.plain_with(p, s, derives, serde)
    }

    /// A struct or exception with the given derive attributes (also used
    /// for the hidden argument structs of service methods).
    pub(super) fn plain_with(&self, p: usize, s: &Struct, derives: TokenStream, serde: TokenStream) -> TokenStream {
        let doc = doc_attrs(&s.doc);
        let name = names::ident(&names::type_name(&s.name));
        let idents: Vec<_> = s.fields.iter().map(|f| names::ident(&names::snake_name(&f.name))).collect();
        let docs: Vec<_> = s.fields.iter().map(|f| doc_attrs(&f.doc)).collect();
        let types: Vec<_> = s.fields.iter().map(|f| self.field_type(p, f)).collect();
        let defaults: Vec<_> = s.fields.iter().map(|f| self.field_default(p, f)).collect();

        let encode_fields = s.fields.iter().zip(&idents).map(|(f, ident)| {
            let ttype = self.ttype(&f.ty);
            let fid = Literal::i16_unsuffixed(f.id);
            if f.requiredness == Requiredness::Optional {
                quote! {
                    if let ::std::option::Option::Some(v) = &self.#ident {
                        w.field_begin(#ttype, #fid);
                        ::mu2sls::codegen::Encode::encode(v, w);
                    }
                }
            } else {
                quote! {
                    w.field_begin(#ttype, #fid);
                    ::mu2sls::codegen::Encode::encode(&self.#ident, w);
                }
            }
        });

        let locals: Vec<_> = s.fields.iter().map(|f| format_ident!("__{}", names::snake_name(&f.name))).collect();
        let local_types: Vec<_> = s
            .fields
            .iter()
            .map(|f| {
                let mut ty = self.rust_type(p, &f.ty);
                if f.recursive {
                    ty = quote! { ::std::boxed::Box<#ty> };
                }
                ty
            })
            .collect();
        let arms = s.fields.iter().zip(&locals).map(|(f, local)| {
            let ttype = self.ttype(&f.ty);
            let fid = Literal::i16_unsuffixed(f.id);
            let path = format!("{}.{}", s.name, f.name);
            quote! {
                (#fid, #ttype) => {
                    #local = ::std::option::Option::Some(
                        ::mu2sls::codegen::Decode::decode(r).map_err(|e| e.within(#path))?,
                    );
                }
            }
        });
        let assemble = s.fields.iter().zip(&locals).zip(&idents).map(|((f, local), ident)| {
            let value = match f.requiredness {
                Requiredness::Optional => quote! { #local },
                Requiredness::Required => {
                    let path = format!("{}.{}", s.name, f.name);
                    quote! {
                        match #local {
                            ::std::option::Option::Some(v) => v,
                            ::std::option::Option::None => {
                                return ::std::result::Result::Err(::mu2sls::codegen::DecodeError::missing_required(#path, r.position()));
                            }
                        }
                    }
                }
                Requiredness::Default => {
                    let default = self.field_default(p, f);
                    quote! {
                        match #local {
                            ::std::option::Option::Some(v) => v,
                            ::std::option::Option::None => #default,
                        }
                    }
                }
            };
            quote! { #ident: #value }
        });

        let exception = (s.kind == StructKind::Exception).then(|| {
            let label = s.name.as_str();
            quote! {
                impl ::std::fmt::Display for #name {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        write!(f, "{} {:?}", #label, self)
                    }
                }
                impl ::std::error::Error for #name {}
            }
        });

        quote! {
            #doc
            #derives
            #serde
            pub struct #name {
                #( #docs pub #idents: #types, )*
            }

            impl ::std::default::Default for #name {
                fn default() -> Self {
                    #name { #( #idents: #defaults, )* }
                }
            }

            impl ::mu2sls::codegen::Encode for #name {
                const TTYPE: ::mu2sls::codegen::TType = ::mu2sls::codegen::TType::Struct;
                fn encode<P: ::mu2sls::codegen::Protocol, O: ::mu2sls::codegen::Output>(
                    &self,
                    w: &mut ::mu2sls::codegen::Writer<P, O>,
                ) {
                    w.struct_begin();
                    #( #encode_fields )*
                    w.struct_end();
                }
            }

            impl ::mu2sls::codegen::Decode for #name {
                fn decode<P: ::mu2sls::codegen::Protocol>(
                    r: &mut ::mu2sls::codegen::Reader<'_, P>,
                ) -> ::std::result::Result<Self, ::mu2sls::codegen::DecodeError> {
                    r.struct_begin()?;
                    #( let mut #locals: ::std::option::Option<#local_types> = ::std::option::Option::None; )*
                    while let ::std::option::Option::Some((t, id)) = r.field_begin()? {
                        match (id, t) {
                            #( #arms )*
                            _ => r.skip(t)?,
                        }
                    }
                    r.struct_end();
                    ::std::result::Result::Ok(#name { #( #assemble, )* })
                }
            }

            #exception
        }
    }

    fn union(&self, p: usize, id: DefId, s: &Struct, traits: &TraitTable) -> TokenStream {
        let doc = doc_attrs(&s.doc);
        let name = names::ident(&names::type_name(&s.name));
        let derives = traits.derives(id, self.options.btree);
        let serde = self.serde_attrs(false);
        let variants: Vec<_> = s.fields.iter().map(|f| names::ident(&names::type_name(&f.name))).collect();
        let unknown = if variants.iter().any(|v| v == "Unknown") {
            format_ident!("UnknownField")
        } else {
            format_ident!("Unknown")
        };
        let docs: Vec<_> = s.fields.iter().map(|f| doc_attrs(&f.doc)).collect();
        let types: Vec<_> = s
            .fields
            .iter()
            .map(|f| {
                let ty = self.rust_type(p, &f.ty);
                if f.recursive {
                    quote! { ::std::boxed::Box<#ty> }
                } else {
                    ty
                }
            })
            .collect();
        let ttypes: Vec<_> = s.fields.iter().map(|f| self.ttype(&f.ty)).collect();
        let ids: Vec<_> = s.fields.iter().map(|f| Literal::i16_unsuffixed(f.id)).collect();
        let paths: Vec<_> = s.fields.iter().map(|f| format!("{}.{}", s.name, f.name)).collect();
        quote! {
            #doc
            #derives
            #serde
            pub enum #name {
                #( #docs #variants(#types), )*
                /// A member this version of the IDL does not know (its field
                /// id), or no member at all (`None`). Encodes as an empty union.
                #unknown(::std::option::Option<i16>),
            }

            impl ::std::default::Default for #name {
                /// No member set.
                fn default() -> Self {
                    #name::#unknown(::std::option::Option::None)
                }
            }

            impl ::mu2sls::codegen::Encode for #name {
                const TTYPE: ::mu2sls::codegen::TType = ::mu2sls::codegen::TType::Struct;
                fn encode<P: ::mu2sls::codegen::Protocol, O: ::mu2sls::codegen::Output>(
                    &self,
                    w: &mut ::mu2sls::codegen::Writer<P, O>,
                ) {
                    w.struct_begin();
                    match self {
                        #(
                            #name::#variants(v) => {
                                w.field_begin(#ttypes, #ids);
                                ::mu2sls::codegen::Encode::encode(v, w);
                            }
                        )*
                        #name::#unknown(_) => {}
                    }
                    w.struct_end();
                }
            }

            impl ::mu2sls::codegen::Decode for #name {
                fn decode<P: ::mu2sls::codegen::Protocol>(
                    r: &mut ::mu2sls::codegen::Reader<'_, P>,
                ) -> ::std::result::Result<Self, ::mu2sls::codegen::DecodeError> {
                    r.struct_begin()?;
                    let mut value = #name::#unknown(::std::option::Option::None);
                    // More than one member set is invalid; the last one wins.
                    while let ::std::option::Option::Some((t, id)) = r.field_begin()? {
                        match (id, t) {
                            #(
                                (#ids, #ttypes) => {
                                    value = #name::#variants(
                                        ::mu2sls::codegen::Decode::decode(r).map_err(|e| e.within(#paths))?,
                                    );
                                }
                            )*
                            _ => {
                                r.skip(t)?;
                                value = #name::#unknown(::std::option::Option::Some(id));
                            }
                        }
                    }
                    r.struct_end();
                    ::std::result::Result::Ok(value)
                }
            }
        }
    }
}

/// Which of `Eq` and `Hash` each struct can derive: `f64` has neither, and
/// `HashMap`/`HashSet` have no `Hash`. Computed as a fixpoint, so recursive
/// types are handled.
pub(super) struct TraitTable {
    eq: HashMap<DefId, bool>,
    hash: HashMap<DefId, bool>,
}

impl TraitTable {
    pub(super) fn new(g: &Generator<'_>) -> TraitTable {
        let ids: Vec<DefId> = g
            .model
            .programs
            .iter()
            .enumerate()
            .flat_map(|(p, prog)| (0..prog.structs.len()).map(move |index| DefId { program: p, index }))
            .collect();
        let mut t = TraitTable {
            eq: ids.iter().map(|id| (*id, true)).collect(),
            hash: ids.iter().map(|id| (*id, true)).collect(),
        };
        // Start optimistic and knock out until nothing changes.
        loop {
            let mut changed = false;
            for id in &ids {
                let fields = &g.model.struct_def(*id).fields;
                let eq = fields.iter().all(|f| t.type_has(g, &f.ty, false));
                let hash = fields.iter().all(|f| t.type_has(g, &f.ty, true));
                if t.eq[id] != eq || t.hash[id] != hash {
                    t.eq.insert(*id, eq);
                    t.hash.insert(*id, hash);
                    changed = true;
                }
            }
            if !changed {
                return t;
            }
        }
    }

    /// Whether `ty` implements `Eq` (or, with `hash`, `Hash` too).
    pub(super) fn type_has(&self, g: &Generator<'_>, ty: &Type, hash: bool) -> bool {
        match g.model.resolve(ty) {
            Type::Base(BaseType::Double) => false,
            Type::Base(_) | Type::Enum(_) => true,
            Type::List(e) => self.type_has(g, e, hash),
            Type::Set(e) => (!hash || g.options.btree) && self.type_has(g, e, hash),
            Type::Map(k, v) => (!hash || g.options.btree) && self.type_has(g, k, hash) && self.type_has(g, v, hash),
            Type::Struct(id) => {
                if hash {
                    self.hash[id]
                } else {
                    self.eq[id]
                }
            }
            Type::Typedef(_) => true,
        }
    }

    /// `Clone, Debug, PartialEq` always; `Eq` and `Hash` where the fields
    /// have them; with `btree`, `PartialOrd` and `Ord` wherever `Eq` holds,
    /// so the type can sit in a `BTreeSet` or be a `BTreeMap` key.
    fn derives(&self, id: DefId, btree: bool) -> TokenStream {
        let mut traits = vec![quote! { Clone }, quote! { Debug }, quote! { PartialEq }];
        if self.eq[&id] {
            traits.push(quote! { Eq });
            if self.hash[&id] {
                traits.push(quote! { Hash });
            }
            if btree {
                traits.push(quote! { PartialOrd });
                traits.push(quote! { Ord });
            }
        }
        quote! { #[derive(#(#traits),*)] }
    }
}
