//! The generated code, one function per item it emits.
//!
//! For a declaration `struct Net { fc1: Dense<2, 8>, act: Relu, fc2: Dense<8, 3> }` this emits
//! the struct (the parameter buffer plus one field per layer), a `NetTape` type holding each
//! layer's output, output gradient and cache, and inside an anonymous `const _` block: the
//! inherent items (`INPUT`, `OUTPUT`, `PARAM_COUNT`, `init`, `new`, `cast`), the
//! `constnet::Network` and `constnet::Tape` impls whose forward and backward are written out
//! layer by layer (in [`network`]), and one width check per boundary the macro could not
//! decide.
//!
//! Every item is emitted from the declaration's [`Surface`] (what the rest of a program sees:
//! names, generics, widths, fields) and, for a checked declaration, its [`Body`]. A
//! declaration with errors gets the same items with bodies that never run, so that the rest
//! of the program type-checks against the type the user declared and the only errors are
//! the declaration's own.
//!
//! A `Dense` layer next to a `Relu` is fused with it (see [`Fusion`]): the two are one pass
//! over the hidden layer each way instead of two.

mod network;

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{GenericParam, Ident};

use crate::ast::{Act, Affine, Input, LayerDecl, LayerKind, NetDecl, Norm, Scheme, Width};
use crate::check::{Model, Resolved, check};

/// Expands every network of the input; a network with errors becomes its errors plus the
/// same items with bodies that never run.
pub fn network(input: Input) -> TokenStream {
    input
        .nets
        .iter()
        .map(|net| {
            let surface = Surface::of(net);
            match (check(net), surface) {
                (Ok(model), Some(surface)) => {
                    emit(&surface, Some(&Body::of(&model, &surface.generics)))
                }
                (Err(errors), surface) => {
                    let mut out = errors.to_compile_error();
                    if let Some(surface) = surface {
                        out.extend(emit(&surface, None));
                    }
                    out
                }
                (Ok(_), None) => syn::Error::new(
                    net.ident.span(),
                    "constnet could not read this network's input and output widths",
                )
                .to_compile_error(),
            }
        })
        .collect()
}

/// The generic parameters of the generated types, in their three spellings.
struct Generics {
    /// `const H: usize = 8, T: Float = f32` for the struct definitions.
    decl: TokenStream,
    /// `const H: usize, T: Float` for impl blocks.
    params: TokenStream,
    /// `H` for the user's parameters alone (no `T`).
    user_params: TokenStream,
    /// `H,` followed by the scalar type, for naming the type.
    user_args: TokenStream,
    /// `[(); H],` for each parameter: what a type that holds no layer uses them in.
    phantoms: TokenStream,
}

impl Generics {
    fn of(net: &NetDecl) -> Self {
        let consts: Vec<_> = net
            .generics
            .params
            .iter()
            .filter_map(|p| match p {
                GenericParam::Const(c) => Some(c),
                _ => None,
            })
            .collect();
        let idents: Vec<_> = consts.iter().map(|c| &c.ident).collect();
        let tys: Vec<_> = consts.iter().map(|c| &c.ty).collect();
        Generics {
            decl: quote!(#(#consts,)* T: ::constnet::Float = f32),
            params: quote!(#(const #idents: #tys,)* T: ::constnet::Float),
            user_params: quote!(#(const #idents: #tys),*),
            user_args: quote!(#(#idents,)*),
            phantoms: quote!(#([(); #idents],)*),
        }
    }
}

/// A network width in the generated code: as a const generic argument and as an expression.
struct WidthTokens {
    /// `784`, `H` or `{ 2 * 64 }`.
    arg: TokenStream,
    /// `784`, `H` or `(2 * 64)` (braces would warn).
    expr: TokenStream,
}

/// What the rest of a program sees of a network, read from its declaration alone (so that a
/// declaration with errors offers the same): its name, generic parameters, input and output
/// widths and fields.
struct Surface<'a> {
    net: &'a NetDecl,
    generics: Generics,
    tape: Ident,
    /// The input and output widths.
    input: WidthTokens,
    output: WidthTokens,
    /// The layers that have a type, with it.
    fields: Vec<(&'a LayerDecl, TokenStream)>,
}

impl<'a> Surface<'a> {
    /// The surface, or `None` when the declaration leaves its input or output width unknown
    /// (no layers, say): no type is emitted then, and rustc does not report the program's
    /// uses of the missing type beside the declaration's own error.
    fn of(net: &'a NetDecl) -> Option<Self> {
        let generics = Generics::of(net);
        // The first layer that fixes its input width (`Dense`, `Maxout`, or a width-keeping
        // layer with its width written) gives the network's. A declaration that does not
        // start with one (an error) is taken to read what the first such layer reads: a
        // program written for it then compiles.
        let input = net.layers.iter().find_map(|l| match &l.kind {
            LayerKind::Affine { input, .. } => Some(input.clone()),
            kind => kind.written_width().cloned(),
        });
        let output = net
            .layers
            .iter()
            .fold(None, |width, layer| match &layer.kind {
                LayerKind::Affine { output, .. } => Some(output.clone()),
                LayerKind::Custom { output, .. } => output.clone(),
                LayerKind::Activation { .. } | LayerKind::Norm { .. } => {
                    layer.kind.written_width().cloned().or(width)
                }
            });
        let tokens = |width: Width| WidthTokens {
            arg: width.arg(),
            expr: width.expr(),
        };
        let (input, output) = (tokens(input?), tokens(output?));
        // The first layer of each name (a second one is an error of the check phase).
        let mut fields: Vec<(&LayerDecl, TokenStream)> = Vec::new();
        for layer in &net.layers {
            if let Some(ty) = layer_type(layer)
                && fields.iter().all(|(seen, _)| seen.name != layer.name)
            {
                fields.push((layer, ty));
            }
        }
        Some(Surface {
            net,
            generics,
            tape: format_ident!("{}Tape", net.ident),
            input,
            output,
            fields,
        })
    }

    /// The network's type: `Net<H, T>`.
    fn self_ty(&self) -> TokenStream {
        let (ident, args) = (&self.net.ident, &self.generics.user_args);
        quote!(#ident<#args T>)
    }

    /// The tape's type: `NetTape<H, T>`.
    fn tape_ty(&self) -> TokenStream {
        let (tape, args) = (&self.tape, &self.generics.user_args);
        quote!(#tape<#args T>)
    }
}

/// What a checked declaration adds to its surface: the resolved layers and the names the
/// generated passes use for each layer's slices, tape fields and views.
struct Body<'a> {
    model: &'a Model<'a>,
    fusion: Fusion,
    /// `<Ty as Layer<T, IN, OUT>>` per layer, or for a custom layer its shim (see
    /// [`emit_custom_shim`]), whose items have the same names.
    as_layers: Vec<TokenStream>,
    names: Vec<&'a Ident>,
    /// The layer's slices of the parameters, their gradients and the state.
    p_names: Vec<Ident>,
    g_names: Vec<Ident>,
    s_names: Vec<Ident>,
    /// The layer's tape fields: output, output gradient, cache and (for a fused ReLU) mask.
    outs: Vec<Ident>,
    grads: Vec<Ident>,
    caches: Vec<Ident>,
    masks: Vec<Ident>,
    /// The single-sample forward's locals.
    hs: Vec<Ident>,
    /// The batch each layer reads in a pass over the tape.
    inputs: Vec<TokenStream>,
}

impl<'a> Body<'a> {
    fn of(model: &'a Model<'a>, generics: &Generics) -> Self {
        let layers = &model.layers;
        let names: Vec<&Ident> = layers.iter().map(Resolved::name).collect();
        let prefixed =
            |prefix: &str| -> Vec<Ident> { names.iter().map(|n| field(prefix, n)).collect() };
        let fusion = Fusion::of(layers);
        let outs = prefixed("out");
        // A ReLU whose `Dense` wrote its output reads that output as its input (see `Fusion`).
        let inputs = (0..layers.len())
            .map(|i| {
                if i == 0 {
                    quote!(tape.input.columns(0, batch))
                } else if fusion.forward_done_before(i) {
                    let out = &outs[i];
                    quote!(tape.#out.columns(0, batch))
                } else {
                    let previous = &outs[i - 1];
                    layers[i].linked(quote!(tape.#previous.columns(0, batch)), Link::Batch)
                }
            })
            .collect();
        Body {
            model,
            as_layers: layers
                .iter()
                .map(|layer| match &layer.decl.kind {
                    LayerKind::Custom { .. } => {
                        let (shim, args) = (custom_shim(layer.name()), &generics.user_args);
                        quote!(<#shim<#args T>>)
                    }
                    _ => layer.as_layer(),
                })
                .collect(),
            p_names: prefixed("p"),
            g_names: prefixed("g"),
            s_names: prefixed("s"),
            grads: prefixed("grad"),
            caches: prefixed("cache"),
            masks: prefixed("mask"),
            hs: prefixed("h"),
            outs,
            inputs,
            fusion,
            names,
        }
    }

    fn layers(&self) -> &[Resolved<'a>] {
        &self.model.layers
    }

    /// `&mut <owner>.cache_<layer>`, the layer's cache as its `forward_train` and `backward`
    /// take it. A custom layer's cache is kept as `Box<dyn Any>`, which its shim takes: the
    /// tape's type then does not name `<Custom as Layer<..>>::Cache`, so a custom layer that
    /// does not fit its widths is not an error again wherever a program holds the tape.
    fn cache_mut(&self, i: usize, owner: TokenStream) -> TokenStream {
        let cache = &self.caches[i];
        quote!(&mut #owner.#cache)
    }

    /// `&<owner>.cache_<layer>` (see [`Body::cache_mut`]).
    fn cache_ref(&self, i: usize, owner: TokenStream) -> TokenStream {
        let cache = &self.caches[i];
        match &self.layers()[i].decl.kind {
            LayerKind::Custom { .. } => quote!(&*#owner.#cache),
            _ => quote!(&#owner.#cache),
        }
    }

    /// The type of layer `i`'s cache field on the tape (see [`Body::cache_mut`]).
    fn cache_type(&self, i: usize) -> TokenStream {
        match &self.layers()[i].decl.kind {
            LayerKind::Custom { .. } => quote!(::std::boxed::Box<dyn ::core::any::Any>),
            _ => {
                let as_layer = &self.as_layers[i];
                quote!(#as_layer::Cache)
            }
        }
    }

    /// The expression that allocates layer `i`'s cache (see [`Body::cache_mut`]).
    fn new_cache(&self, i: usize) -> TokenStream {
        let (as_layer, name) = (&self.as_layers[i], self.names[i]);
        quote!(#as_layer::new_cache(&self.#name, max_batch))
    }

    /// `let (p_fc1, _rest) = _rest.split_at(PARAMS); ...` over `source`.
    fn split(
        &self,
        prefix: &str,
        source: TokenStream,
        buffer: Buffer,
        mutable: bool,
    ) -> TokenStream {
        let count = match buffer {
            Buffer::Params => quote!(PARAMS),
            Buffer::State => quote!(STATE),
        };
        let split = if mutable {
            quote!(split_at_mut)
        } else {
            quote!(split_at)
        };
        let lets = self.layers().iter().enumerate().map(|(i, layer)| {
            let (name, as_layer) = (field(prefix, layer.name()), &self.as_layers[i]);
            // A layer fused with its neighbour does not read its slices.
            let split = quote!(_rest.#split(#as_layer::#count));
            quote!(#[allow(unused_variables)] let (#name, _rest) = #split;)
        });
        quote! {
            let _rest = #source;
            #(#lets)*
        }
    }
}

/// The two flat buffers a network hands out to its layers in slices.
#[derive(Clone, Copy)]
enum Buffer {
    /// The trainable parameters (or their gradients), `PARAMS` per layer.
    Params,
    /// The non-trainable state, `STATE` per layer.
    State,
}

/// The body of a generated function: the checked declaration's, or one that never runs (a
/// declaration with errors does not compile, so the program it is in never runs).
fn body(body: Option<&Body<'_>>, real: impl FnOnce(&Body<'_>) -> TokenStream) -> TokenStream {
    match body {
        Some(body) => real(body),
        None => quote!(::core::unreachable!("a network declared with errors")),
    }
}

/// What a declaration with errors puts on its impl blocks: their bodies ignore their
/// arguments.
fn stub_lints(body: Option<&Body<'_>>) -> TokenStream {
    match body {
        Some(_) => quote!(),
        None => quote!(#[allow(unused_variables, unreachable_code, clippy::all)]),
    }
}

impl Width {
    /// The width as a const generic argument: `784`, `H` or `{ 2 * 64 }`.
    fn arg(&self) -> TokenStream {
        match self {
            Width::Lit { lit, .. } => quote!(#lit),
            Width::Name(ident) => quote!(#ident),
            Width::Expr { expr, .. } => quote!({ #expr }),
        }
    }

    /// The width as an expression: `784`, `H` or `(2 * 64)` (braces would warn).
    fn expr(&self) -> TokenStream {
        match self {
            Width::Lit { lit, .. } => quote!(#lit),
            Width::Name(ident) => quote!(#ident),
            Width::Expr { expr, .. } => quote!((#expr)),
        }
    }
}

/// A layer's Rust type, from its declaration alone; `None` for an unknown layer kind.
fn layer_type(layer: &LayerDecl) -> Option<TokenStream> {
    Some(match &layer.kind {
        LayerKind::Affine {
            affine,
            input,
            output,
        } => {
            let (i, o) = (input.arg(), output.arg());
            match affine {
                Affine::Dense => quote!(::constnet::layers::Dense<#i, #o>),
                Affine::Maxout { pieces } => {
                    let k = pieces.as_ref().map_or(quote!(2), Width::arg);
                    quote!(::constnet::layers::Maxout<#i, #o, #k>)
                }
            }
        }
        LayerKind::Norm { keyword, .. } | LayerKind::Activation { keyword, .. } => {
            quote!(::constnet::layers::#keyword)
        }
        LayerKind::Custom {
            ty,
            output: Some(_),
        } => quote!(#ty),
        LayerKind::Custom { output: None, .. } => return None,
    })
}

/// Which of a deferred boundary's conversions a view goes through (see `constnet::__private`).
#[derive(Clone, Copy)]
enum Link {
    Batch,
    BatchMut,
    One,
}

impl Resolved<'_> {
    fn name(&self) -> &Ident {
        &self.decl.name
    }

    /// The layer's Rust type.
    fn ty(&self) -> TokenStream {
        layer_type(self.decl).expect("a checked layer has a type")
    }

    /// `<Ty as Layer<T, IN, OUT>>`, the path through which a built-in layer is called (a
    /// custom layer is called through its shim: see [`emit_custom_shim`]).
    fn as_layer(&self) -> TokenStream {
        let (ty, i, o) = (self.ty(), self.input.arg(), self.output.arg());
        quote!(<#ty as ::constnet::Layer<T, #i, #o>>)
    }

    /// The expression that builds the layer's value.
    fn constructor(&self) -> TokenStream {
        match &self.decl.kind {
            LayerKind::Affine { affine, .. } => {
                let init = match self.init.scheme {
                    Some((Scheme::He, _)) => quote!(He),
                    Some((Scheme::Calibrated, _)) => quote!(Calibrated),
                    Some((Scheme::SmallRandom, _)) => quote!(SmallRandom),
                    Some((Scheme::Sparse, connections)) => {
                        let connections = match connections {
                            Some(n) => {
                                let n = Literal::usize_unsuffixed(n);
                                quote!(#n)
                            }
                            None => quote!(::constnet::Init::DEFAULT_SPARSE_CONNECTIONS),
                        };
                        quote!(Sparse { connections: #connections })
                    }
                    None if self.feeds_relu && matches!(affine, Affine::Dense) => quote!(He),
                    None => quote!(Calibrated),
                };
                let ty = self.ty();
                let bias = self.init.bias.map(|value| {
                    let magnitude = Literal::f64_suffixed(value.abs());
                    let sign = value.is_sign_negative().then(|| quote!(-));
                    quote!(.with_bias(#sign #magnitude))
                });
                quote!(<#ty>::new(::constnet::Init::#init) #bias)
            }
            LayerKind::Activation {
                act,
                keyword,
                arg,
                seed,
                ..
            } => match (act, arg) {
                (Act::LeakyRelu | Act::Elu, Some((value, _))) => {
                    let value = Literal::f64_suffixed(*value);
                    quote!(::constnet::layers::#keyword::new(#value))
                }
                (Act::LeakyRelu | Act::Elu, None) => {
                    quote!(<::constnet::layers::#keyword as ::core::default::Default>::default())
                }
                (Act::Dropout, arg) => {
                    // Checked to be in (0, 1] by the check phase. Each dropout layer draws
                    // its masks from its own stream, seeded from its name unless the
                    // declaration gives the seed.
                    let p = Literal::f64_suffixed(arg.map_or(0.5, |(value, _)| value));
                    let seed = seed.unwrap_or_else(|| name_seed(&self.name().to_string()));
                    let seed = Literal::u64_suffixed(seed);
                    quote!(::constnet::layers::Dropout::checked(#p, #seed))
                }
                _ => quote!(::constnet::layers::#keyword),
            },
            LayerKind::Norm {
                norm,
                momentum,
                eps,
                ..
            } => {
                // Both checked by the check phase.
                let momentum = Literal::f64_suffixed(momentum.map_or(0.9, |(value, _)| value));
                let eps = Literal::f64_suffixed(eps.map_or(1e-5, |(value, _)| value));
                match norm {
                    Norm::Batch => {
                        quote!(::constnet::layers::BatchNorm::checked(#momentum, #eps))
                    }
                    Norm::Layer => quote!(::constnet::layers::LayerNorm::checked(#eps)),
                }
            }
            LayerKind::Custom { ty, .. } => {
                quote_spanned!(ty.span()=> <#ty as ::core::default::Default>::default())
            }
        }
    }

    /// A view of the previous layer's output with this layer's input width. Where the macro
    /// left the two widths to a constant evaluation, the view goes through a conversion that
    /// compiles at any pair of widths (the identity when the check passes).
    fn linked(&self, view: TokenStream, link: Link) -> TokenStream {
        let Some(boundary) = &self.deferred else {
            return view;
        };
        let (a, b) = (self.input.arg(), boundary.produced.arg());
        match link {
            Link::Batch => quote!(::constnet::__private::link_batch::<T, #a, #b>(#view)),
            Link::BatchMut => quote!(::constnet::__private::link_batch_mut::<T, #a, #b>(#view)),
            Link::One => quote!(&::constnet::__private::link_one::<T, #a, #b>(#view)),
        }
    }
}

/// Which `Dense` layers the expansion fuses with a `Relu` next to them.
///
/// - `forward[i]`: layer `i` is a `Dense` and layer `i + 1` a `Relu`. The `Dense` writes
///   `max(0, W x + b)` straight into the ReLU's output, whose own forward is skipped; the
///   `Dense`'s output slot on the tape is left unwritten, so the ReLU's backward (when it is
///   not fused too) and its kink record read the ReLU's output instead of its input, which
///   is positive exactly where the input is.
/// - `backward[j]`: layer `j` is a `Dense` and layer `j - 1` a `Relu`. The `Dense`'s input
///   gradient is gated by its input (the ReLU's output) in the same pass and written where the
///   ReLU's would go; the ReLU's backward is skipped.
struct Fusion {
    forward: Vec<bool>,
    backward: Vec<bool>,
}

impl Fusion {
    fn of(layers: &[Resolved<'_>]) -> Self {
        let dense = |l: &Resolved<'_>| {
            matches!(
                l.decl.kind,
                LayerKind::Affine {
                    affine: Affine::Dense,
                    ..
                }
            )
        };
        let relu =
            |l: &Resolved<'_>| matches!(l.decl.kind, LayerKind::Activation { act: Act::Relu, .. });
        let n = layers.len();
        Fusion {
            forward: (0..n)
                .map(|i| dense(&layers[i]) && i + 1 < n && relu(&layers[i + 1]))
                .collect(),
            backward: (0..n)
                // Not after a ReLU that is the first layer (a network may start with one):
                // the network's input gradient is that ReLU's own.
                .map(|j| dense(&layers[j]) && j >= 2 && relu(&layers[j - 1]))
                .collect(),
        }
    }

    /// Whether layer `i` is a ReLU whose forward its `Dense` does.
    fn forward_done_before(&self, i: usize) -> bool {
        i >= 1 && self.forward[i - 1]
    }

    /// Whether layer `i` is a ReLU whose backward the `Dense` after it does.
    fn backward_done_after(&self, i: usize) -> bool {
        i + 1 < self.backward.len() && self.backward[i + 1]
    }

    /// Whether a network that starts `Dense`, `Relu`, `Dense` has its third layer's kernel
    /// also do the first layer's gradients.
    fn first_pair(&self) -> bool {
        self.forward[0] && self.backward.get(2).copied().unwrap_or(false)
    }
}

fn field(prefix: &str, name: &Ident) -> Ident {
    format_ident!("{}_{}", prefix, name)
}

/// Everything for one network: `body` is `None` for a declaration with errors.
fn emit(surface: &Surface<'_>, body: Option<&Body<'_>>) -> TokenStream {
    let net_struct = emit_struct(surface, body);
    let tape_struct = emit_tape_struct(surface, body);
    let checks = body.map(|b| {
        b.model
            .layers
            .iter()
            .map(|layer| {
                let mut check = emit_width_check(layer);
                check.extend(emit_custom_check(layer));
                check.extend(emit_custom_shim(surface, layer));
                check
            })
            .collect::<TokenStream>()
    });
    let inherent = emit_inherent(surface, body);
    let network_impl = network::emit_network_impl(surface, body);
    let forward_tiers = body.map(|b| network::emit_forward_tiers(surface, b));
    let any_network_impl = emit_any_network_impl(surface);
    let tape_impl = emit_tape_impl(surface, body);
    let debug_impls = emit_debug_impls(surface, body);
    quote! {
        #net_struct
        #tape_struct
        const _: () = {
            #checks
            #inherent
            #network_impl
            #forward_tiers
            #any_network_impl
            #tape_impl
            #debug_impls
        };
    }
}

fn emit_struct(s: &Surface<'_>, body: Option<&Body<'_>>) -> TokenStream {
    let net = s.net;
    let (attrs, vis, ident, decl) = (&net.attrs, &net.vis, &net.ident, &s.generics.decl);
    let fields = s.fields.iter().map(|(layer, ty)| {
        let (attrs, vis, name) = (&layer.attrs, &layer.vis, &layer.name);
        quote!(#(#attrs)* #vis #name: #ty,)
    });
    // A declaration with errors may leave a parameter without a layer that uses it.
    let phantom = body.is_none().then(|| {
        let phantoms = &s.generics.phantoms;
        quote!(__widths: ::core::marker::PhantomData<fn() -> (#phantoms T,)>,)
    });
    let at_name = ident.span();
    let head = respan_outside(quote!(#vis struct), at_name);
    let rest = respan_outside(
        quote! {
            <#decl> {
                params: ::constnet::__private::AlignedBuffer<T>,
                state: ::std::vec::Vec<T>,
                #(#fields)*
                #phantom
            }
        },
        at_name,
    );
    quote! {
        #(#attrs)*
        #[derive(Clone)]
        #head #ident #rest
    }
}

fn emit_tape_struct(s: &Surface<'_>, body: Option<&Body<'_>>) -> TokenStream {
    let net = s.net;
    let (vis, decl, tape) = (&net.vis, &s.generics.decl, &s.tape);
    let doc = format!(
        "The training tape of [`{}`]: each layer's output, output gradient and cache for up \
         to `max_batch` samples, allocated once by `Network::new_tape` and reused.",
        net.ident
    );
    let fields = match body {
        Some(b) => {
            let input = &s.input.arg;
            let layers = b.layers().iter().enumerate().map(|(i, layer)| {
                let (out, grad, cache, cache_type) =
                    (&b.outs[i], &b.grads[i], &b.caches[i], b.cache_type(i));
                let o = layer.output.arg();
                let mask = b.fusion.forward_done_before(i).then(|| {
                    let mask = &b.masks[i];
                    quote!(#mask: ::constnet::layers::ReluMask,)
                });
                quote! {
                    #out: ::constnet::Batch<T, #o>,
                    #grad: ::constnet::Batch<T, #o>,
                    #cache: #cache_type,
                    #mask
                }
            });
            quote! {
                batch: usize,
                max_batch: usize,
                input: ::constnet::Batch<T, #input>,
                input_grad: ::constnet::Batch<T, #input>,
                /// What the layers' `backward_sgd` need (the most any of them does).
                sgd_scratch: ::std::vec::Vec<T>,
                #(#layers)*
            }
        }
        None => {
            let phantoms = &s.generics.phantoms;
            quote!(__widths: ::core::marker::PhantomData<fn() -> (#phantoms T,)>,)
        }
    };
    quote! {
        #[doc = #doc]
        #[allow(non_snake_case)]
        #vis struct #tape<#decl> {
            #fields
        }
    }
}

/// The name of the trait through which custom layer `name` is called (see
/// [`emit_custom_check`]).
fn custom_check_trait(name: &Ident) -> Ident {
    format_ident!("Layer_{}", name)
}

/// For a custom layer, a trait of its own whose only impl is for the types that implement
/// `Layer` at the widths given, and which holds the layer's items as one constant (see
/// [`emit_custom_shim`], through which every use of the layer goes): a layer that does not
/// fit is then one error, in words that name the layer, not only its type.
fn emit_custom_check(layer: &Resolved<'_>) -> TokenStream {
    let LayerKind::Custom { ty, .. } = &layer.decl.kind else {
        return TokenStream::new();
    };
    let name = custom_check_trait(layer.name());
    let message = format!(
        "layer `{}` is a `{{Self}}`, which does not take {{I}} inputs to {{O}} outputs",
        layer.name()
    );
    quote_spanned! {ty.span()=>
        #[allow(non_camel_case_types)]
        #[doc(hidden)]
        #[diagnostic::on_unimplemented(
            message = #message,
            label = "this type takes other widths",
            note = "a layer implements `constnet::Layer<T, IN, OUT>` for the widths it accepts"
        )]
        trait #name<T: ::constnet::Float, const I: usize, const O: usize>: Sized {
            const C: ::constnet::__private::Custom<Self, T, I, O>;
        }
        #[diagnostic::do_not_recommend]
        impl<T: ::constnet::Float, const I: usize, const O: usize, L: ::constnet::Layer<T, I, O>>
            #name<T, I, O> for L
        where
            <L as ::constnet::Layer<T, I, O>>::Cache: 'static,
        {
            const C: ::constnet::__private::Custom<L, T, I, O> =
                ::constnet::__private::Custom::<L, T, I, O>::OF;
        }
    }
}

/// The name of custom layer `name`'s shim (see [`emit_custom_shim`]).
fn custom_shim(name: &Ident) -> Ident {
    format_ident!("__Layer_{}", name)
}

/// For a custom layer, a type whose items have the names of `Layer`'s and call the layer
/// through one constant, `C`, of type `constnet::__private::Custom`: the one place where
/// the expansion names `Ty: Layer<T, IN, OUT>`, after the check of [`emit_custom_check`].
/// A layer that does not take its widths is then one error, counted once, rather than one in
/// each generated body that calls it. (The cache is the tape's `Box<dyn Any>`.)
fn emit_custom_shim(s: &Surface<'_>, layer: &Resolved<'_>) -> TokenStream {
    let LayerKind::Custom { ty, .. } = &layer.decl.kind else {
        return TokenStream::new();
    };
    let (shim, check) = (custom_shim(layer.name()), custom_check_trait(layer.name()));
    let (params, args) = (&s.generics.params, &s.generics.user_args);
    let (i, o) = (layer.input.arg(), layer.output.arg());
    let custom = quote!(::constnet::__private::Custom<#ty, T, #i, #o>);
    let c = respan(
        quote! {
            const C: #custom = <#ty as #check<T, #i, #o>>::C;
        },
        ty.span(),
    );
    let (x, y) = (
        quote!(::constnet::BatchView<'_, T, #i>),
        quote!(::constnet::BatchView<'_, T, #o>),
    );
    let (dx, y_mut) = (
        quote!(::core::option::Option<::constnet::BatchViewMut<'_, T, #i>>),
        quote!(::constnet::BatchViewMut<'_, T, #o>),
    );
    let cache = quote!(::std::boxed::Box<dyn ::core::any::Any>);
    let specs = quote!(&'static [::constnet::TensorSpec]);
    // `backward` and `backward_overwrite` take the same arguments.
    let backwards = [
        format_ident!("backward"),
        format_ident!("backward_overwrite"),
    ]
    .map(|f| {
        quote! {
            #[inline(always)]
            fn #f(
                layer: &#ty,
                params: &[T],
                x: #x,
                y: #y,
                cache: &mut #cache,
                dy: #y,
                dx: #dx,
                dparams: &mut [T],
            ) {
                (Self::C.#f)(layer, params, x, y, cache, dy, dx, dparams);
            }
        }
    });
    quote! {
        #[allow(non_camel_case_types)]
        struct #shim<#params>(::core::marker::PhantomData<fn() -> T>);

        #[allow(dead_code, clippy::too_many_arguments)]
        impl<#params> #shim<#args T> {
            #c
            const PARAMS: usize = Self::C.params;
            const TENSORS: #specs = Self::C.tensors;
            const STATE: usize = Self::C.state;
            const STATE_TENSORS: #specs = Self::C.state_tensors;
            const SGD_SCRATCH: usize = Self::C.sgd_scratch;

            #[inline(always)]
            fn kind(layer: &#ty) -> &'static str {
                (Self::C.kind)(layer)
            }
            #[inline(always)]
            fn init(layer: &#ty, params: &mut [T], rng: &mut dyn ::constnet::__private::RngCore) {
                (Self::C.init)(layer, params, rng);
            }
            #[inline(always)]
            fn init_state(layer: &#ty, state: &mut [T]) {
                (Self::C.init_state)(layer, state);
            }
            #[inline(always)]
            fn new_cache(layer: &#ty, max_batch: usize) -> #cache {
                (Self::C.new_cache)(layer, max_batch)
            }
            #[inline(always)]
            fn forward_one(
                layer: &#ty,
                params: &[T],
                state: &[T],
                x: &::constnet::Sample<T, #i>,
            ) -> ::constnet::Sample<T, #o> {
                (Self::C.forward_one)(layer, params, state, x)
            }
            #[inline(always)]
            fn forward(layer: &#ty, params: &[T], state: &[T], x: #x, y: #y_mut) {
                (Self::C.forward)(layer, params, state, x, y);
            }
            #[inline(always)]
            fn forward_train(
                layer: &#ty,
                params: &[T],
                state: &mut [T],
                x: #x,
                y: #y_mut,
                cache: &mut #cache,
            ) {
                (Self::C.forward_train)(layer, params, state, x, y, cache);
            }
            #(#backwards)*
            #[inline(always)]
            fn backward_sgd(
                layer: &#ty,
                params: &mut [T],
                x: #x,
                y: #y,
                cache: &mut #cache,
                dy: #y,
                dx: #dx,
                lr: T,
                weight_decay: T,
                scratch: &mut [T],
            ) {
                (Self::C.backward_sgd)(
                    layer, params, x, y, cache, dy, dx, lr, weight_decay, scratch,
                );
            }
            #[inline(always)]
            fn record_kinks(layer: &#ty, params: &[T], x: #x, kinks: &mut ::constnet::Kinks) {
                (Self::C.record_kinks)(layer, params, x, kinks);
            }
            #[inline(always)]
            fn freeze_masks(cache: &mut #cache, frozen: bool) {
                (Self::C.freeze_masks)(cache, frozen);
            }
            #[inline(always)]
            fn reseed_masks(cache: &mut #cache, stream: u64) {
                (Self::C.reseed_masks)(cache, stream);
            }
            #[inline(always)]
            fn mask(cache: &dyn ::core::any::Any) -> ::core::option::Option<::std::vec::Vec<T>> {
                (Self::C.mask)(cache)
            }
            #[inline(always)]
            fn set_mask(
                cache: &mut #cache,
                keep: &[T],
            ) -> ::core::result::Result<(), ::constnet::Error> {
                (Self::C.set_mask)(cache, keep)
            }
        }
    }
}

/// The check of one boundary the macro could not decide (a `const` item or an expression on
/// either side): a constant evaluation that fails with the layer's message when the widths
/// differ, once, at the layer's input width.
fn emit_width_check(layer: &Resolved<'_>) -> TokenStream {
    let Some(boundary) = &layer.deferred else {
        return TokenStream::new();
    };
    let (expects, produces) = (layer.input.expr(), boundary.produced.expr());
    let head = format!("layer `{}` expects ", layer.name());
    let middle = format!(" inputs but `{}` produces ", boundary.previous);
    // Named for the label of the error: "evaluation of `_::fc2_inputs` failed here".
    let name = format_ident!("{}_inputs", layer.name());
    quote_spanned! {layer.input.span()=>
        #[allow(non_upper_case_globals, dead_code)]
        const #name: () = {
            if #expects != #produces {
                let message = ::constnet::__private::Message::new()
                    .text(#head)
                    .number(#expects)
                    .text(#middle)
                    .number(#produces);
                ::core::panic!("{}", message.as_str());
            }
        };
    }
}

fn emit_inherent(s: &Surface<'_>, b: Option<&Body<'_>>) -> TokenStream {
    let g = &s.generics;
    let (ident, params, user_params, self_ty) =
        (&s.net.ident, &g.params, &g.user_params, s.self_ty());
    let (input, output) = (&s.input.expr, &s.output.expr);
    let user_args = &g.user_args;
    let (param_count, state_count) = match b {
        Some(b) => {
            let sum = |count: TokenStream| {
                let terms = b.as_layers.iter().map(|as_layer| quote!(#as_layer::#count));
                quote!(0 #(+ #terms)*)
            };
            (sum(quote!(PARAMS)), sum(quote!(STATE)))
        }
        None => (quote!(0), quote!(0)),
    };
    let init = emit_init(s, b);
    let cast = emit_cast(s, b);
    let lints = stub_lints(b);
    quote! {
        #lints
        impl<#params> #self_ty {
            /// Width of one input sample.
            pub const INPUT: usize = #input;
            /// Width of the output (the number of scores).
            pub const OUTPUT: usize = #output;
            /// Number of trainable parameters.
            pub const PARAM_COUNT: usize = #param_count;
            /// Number of elements of non-trainable state (batch norm's running statistics).
            pub const STATE_COUNT: usize = #state_count;

            #init

            #cast
        }

        impl<#user_params> #ident<#user_args f32> {
            /// An `f32` network initialized from `seed` (see `init`).
            pub fn new(seed: u64) -> Self {
                Self::init(seed)
            }
        }
    }
}

fn emit_init(s: &Surface<'_>, b: Option<&Body<'_>>) -> TokenStream {
    let ident = &s.net.ident;
    let doc = format!(
        "A `{ident}` with freshly initialized parameters, reproducible from `seed`: each \
         Dense layer as its `#[init(...)]` attribute says, and without one He \
         initialization if it feeds a ReLU-family activation, `N(0, 1) / sqrt(fan_in)` \
         otherwise, biases zero."
    );
    let body = body(b, |b| {
        let names = &b.names;
        let inits = (0..names.len()).map(|i| {
            let (as_layer, name, p, st) = (&b.as_layers[i], names[i], &b.p_names[i], &b.s_names[i]);
            quote! {
                #as_layer::init(&net.#name, #p, &mut rng);
                #as_layer::init_state(&net.#name, #st);
            }
        });
        let constructors = b.layers().iter().map(Resolved::constructor);
        let splits = b.split("p", quote!(&mut params[..]), Buffer::Params, true);
        let split_state = b.split("s", quote!(&mut state[..]), Buffer::State, true);
        quote! {
            let mut params = ::constnet::__private::AlignedBuffer::<T>::zeros(Self::PARAM_COUNT);
            let mut rng = ::constnet::__private::seeded_rng(seed);
            let mut state = ::std::vec![<T as ::constnet::__private::Scalar>::ZERO; Self::STATE_COUNT];
            let net = #ident {
                params: ::constnet::__private::AlignedBuffer::zeros(0),
                state: ::std::vec::Vec::new(),
                #(#names: #constructors,)*
            };
            {
                #splits
                #split_state
                #(#inits)*
            }
            #ident { params, state, ..net }
        }
    });
    quote! {
        #[doc = #doc]
        pub fn init(seed: u64) -> Self {
            #body
        }
    }
}

fn emit_cast(s: &Surface<'_>, b: Option<&Body<'_>>) -> TokenStream {
    let (ident, user_args) = (&s.net.ident, &s.generics.user_args);
    let body = body(b, |b| {
        let names = &b.names;
        quote! {
            #ident {
                params: self.params.iter().map(|&v| ::constnet::Float::cast::<U>(v)).collect(),
                state: self.state.iter().map(|&v| ::constnet::Float::cast::<U>(v)).collect(),
                #(#names: ::core::clone::Clone::clone(&self.#names),)*
            }
        }
    });
    quote! {
        /// The same network with its parameters converted to scalar `U` (for example a
        /// trained `f32` network in `f64` for a gradient check).
        pub fn cast<U: ::constnet::Float>(&self) -> #ident<#user_args U> {
            #body
        }
    }
}

fn emit_tape_impl(s: &Surface<'_>, b: Option<&Body<'_>>) -> TokenStream {
    let (params, tape_ty) = (&s.generics.params, s.tape_ty());
    let (input, output) = (&s.input.arg, &s.output.arg);
    let last = |f: &dyn Fn(&Ident, &Ident) -> TokenStream| {
        body(b, |b| {
            let last = b.names.len() - 1;
            f(&b.outs[last], &b.grads[last])
        })
    };
    let freeze = body(b, |b| {
        let freezes = b.as_layers.iter().enumerate().map(|(i, as_layer)| {
            let cache = b.cache_mut(i, quote!(self));
            quote!(#as_layer::freeze_masks(#cache, frozen);)
        });
        quote!(#(#freezes)*)
    });
    let reseed = body(b, |b| {
        let reseeds = b.as_layers.iter().enumerate().map(|(i, as_layer)| {
            let cache = b.cache_mut(i, quote!(self));
            quote!(#as_layer::reseed_masks(#cache, stream);)
        });
        quote!(#(#reseeds)*)
    });
    // Dropout and custom layers are asked; the other built-in layers draw no mask.
    let draws = |b: &Body<'_>, i: usize| {
        matches!(
            b.layers()[i].decl.kind,
            LayerKind::Activation {
                act: Act::Dropout,
                ..
            } | LayerKind::Custom { .. }
        )
    };
    let mask_match = |b: &Body<'_>, call: &dyn Fn(usize) -> TokenStream| {
        let all: Vec<String> = b.names.iter().map(|n| n.to_string()).collect();
        let arms = (0..b.names.len()).filter(|&i| draws(b, i)).map(|i| {
            let (name, call) = (&all[i], call(i));
            quote!(#name => #call,)
        });
        quote! {
            match layer {
                #(#arms)*
                _ => ::core::result::Result::Err(::constnet::__private::no_mask(layer, &[#(#all),*])),
            }
        }
    };
    let mask = body(b, |b| {
        mask_match(b, &|i| {
            let (as_layer, cache) = (&b.as_layers[i], b.cache_ref(i, quote!(self)));
            let name = b.names[i].to_string();
            quote! {
                #as_layer::mask(#cache).ok_or_else(|| ::constnet::__private::no_mask(#name, &[]))
            }
        })
    });
    let set_mask = body(b, |b| {
        mask_match(b, &|i| {
            let (as_layer, cache) = (&b.as_layers[i], b.cache_mut(i, quote!(self)));
            quote!(#as_layer::set_mask(#cache, keep))
        })
    });
    let max_batch = body(b, |_| quote!(self.max_batch));
    let batch = body(b, |_| quote!(self.batch));
    let output_view = last(&|out, _| quote!(self.#out.columns(0, self.batch)));
    let output_and_grad = last(
        &|out, grad| quote!((self.#out.columns(0, self.batch), self.#grad.columns_mut(0, self.batch))),
    );
    let input_grad = body(b, |_| quote!(self.input_grad.columns(0, self.batch)));
    let lints = stub_lints(b);
    quote! {
        #lints
        impl<#params> ::constnet::Tape<T, #input, #output> for #tape_ty {
            fn freeze_masks(&mut self, frozen: bool) {
                #freeze
            }

            fn reseed_masks(&mut self, stream: u64) {
                #reseed
            }

            fn mask(&self, layer: &str) -> ::core::result::Result<::std::vec::Vec<T>, ::constnet::Error> {
                #mask
            }

            fn set_mask(&mut self, layer: &str, keep: &[T]) -> ::core::result::Result<(), ::constnet::Error> {
                #set_mask
            }

            fn max_batch(&self) -> usize {
                #max_batch
            }

            fn batch(&self) -> usize {
                #batch
            }

            fn output(&self) -> ::constnet::BatchView<'_, T, #output> {
                #output_view
            }

            fn output_and_grad_mut(
                &mut self,
            ) -> (::constnet::BatchView<'_, T, #output>, ::constnet::BatchViewMut<'_, T, #output>) {
                #output_and_grad
            }

            fn input_grad(&self) -> ::constnet::BatchView<'_, T, #input> {
                #input_grad
            }
        }
    }
}

/// `AnyNetwork<T>`: the buffers and the checkpoint at no widths, the same for a declaration
/// with errors.
fn emit_any_network_impl(s: &Surface<'_>) -> TokenStream {
    let (params, self_ty) = (&s.generics.params, s.self_ty());
    // At the network's name, as the `Network` impl: rustc's note that the impl exists for
    // another scalar type shows that line.
    let at_name = s.net.ident.span();
    let header = respan(
        quote!(impl<#params> ::constnet::network::AnyNetwork<T> for #self_ty),
        at_name,
    );
    respan_outside(
        quote! {
            #header {
                fn flat_params(&self) -> &[T] {
                    &self.params
                }
                fn flat_params_mut(&mut self) -> &mut [T] {
                    &mut self.params
                }
                fn flat_state(&self) -> &[T] {
                    &self.state
                }
                fn flat_state_mut(&mut self) -> &mut [T] {
                    &mut self.state
                }
                fn to_checkpoint(&self) -> ::constnet::Checkpoint {
                    ::constnet::Checkpoint::of(self)
                }
            }
        },
        at_name,
    )
}

fn emit_debug_impls(s: &Surface<'_>, b: Option<&Body<'_>>) -> TokenStream {
    let (params, self_ty, tape_ty) = (&s.generics.params, s.self_ty(), s.tape_ty());
    let (ident_str, tape_str) = (s.net.ident.to_string(), s.tape.to_string());
    let names: Vec<_> = s.fields.iter().map(|(layer, _)| &layer.name).collect();
    let name_strs = names.iter().map(|n| n.to_string());
    let tape_fields = body(b, |_| {
        quote! {
            f.debug_struct(#tape_str)
                .field("batch", &self.batch)
                .field("max_batch", &self.max_batch)
                .finish_non_exhaustive()
        }
    });
    let lints = stub_lints(b);
    quote! {
        impl<#params> ::core::fmt::Debug for #self_ty {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#ident_str)
                    #(.field(#name_strs, &self.#names))*
                    .field("params", &::core::format_args!("[{}; {}]", <T as ::constnet::Float>::NAME, self.params.len()))
                    .finish()
            }
        }

        #lints
        impl<#params> ::core::fmt::Debug for #tape_ty {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                #tape_fields
            }
        }
    }
}

/// `tokens` at `span` on the outside: each token and each group's delimiters, but not what the
/// groups hold. An item so spanned at the network's name is that line where rustc shows
/// where it is defined, not the whole `network!` block.
fn respan_outside(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect()
}

/// `tokens` with every token, and every group's delimiters, at `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(group) = &token {
                let mut respanned =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(span);
                token = respanned.into();
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

/// A seed from a layer's name (FNV-1a), so that two dropout layers draw different masks.
fn name_seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
