//! The generated code, one function per item it emits.
//!
//! For a declaration `struct Net { fc1: Dense<2, 8>, act: Relu, fc2: Dense<8, 3> }` this emits
//! the struct (the parameter buffer plus one field per layer), a `NetTape` type holding each
//! layer's output, output gradient and cache, and inside an anonymous `const _` block: the
//! inherent items (`INPUT`, `OUTPUT`, `PARAM_COUNT`, `init`, `new`, `cast`), the
//! `constnet::Network` and `constnet::Tape` impls whose forward and backward are written out
//! layer by layer, and one width-check trait per boundary the macro could not decide.
//!
//! A `Dense` layer next to a `Relu` is fused with it (see [`Fusion`]): the two are one pass
//! over the hidden layer each way instead of two.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{GenericParam, Ident};

use crate::ast::{Act, Affine, Input, LayerKind, NetDecl, Scheme, Width};
use crate::check::{Model, Resolved, check};

/// Expands every network of the input; a network with errors becomes its errors plus a stub
/// of its type, so that one mistake does not cascade into "cannot find type".
pub fn network(input: Input) -> TokenStream {
    input
        .nets
        .iter()
        .map(|net| match check(net) {
            Ok(model) => emit(&model),
            Err(errors) => {
                let mut out = errors.to_compile_error();
                out.extend(stub(net));
                out
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
        }
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

impl Resolved<'_> {
    fn name(&self) -> &Ident {
        &self.decl.name
    }

    /// The layer's Rust type.
    fn ty(&self) -> TokenStream {
        match &self.decl.kind {
            LayerKind::Affine { affine, .. } => {
                let (i, o) = (self.input.arg(), self.output.arg());
                match affine {
                    Affine::Dense => quote!(::constnet::layers::Dense<#i, #o>),
                    Affine::Maxout { pieces } => {
                        let k = pieces.as_ref().map_or(quote!(2), Width::arg);
                        quote!(::constnet::layers::Maxout<#i, #o, #k>)
                    }
                }
            }
            LayerKind::BatchNorm { keyword, .. } => quote!(::constnet::layers::#keyword),
            LayerKind::Activation { keyword, .. } => quote!(::constnet::layers::#keyword),
            LayerKind::Custom { ty, .. } => quote!(#ty),
        }
    }

    /// `<Ty as Layer<T, IN, OUT>>`, the path through which every layer is called.
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
            LayerKind::Activation { act, keyword, arg } => match (act, arg) {
                (Act::LeakyRelu | Act::Elu, Some((value, _))) => {
                    let value = Literal::f64_suffixed(*value);
                    quote!(::constnet::layers::#keyword::new(#value))
                }
                (Act::LeakyRelu | Act::Elu, None) => {
                    quote!(<::constnet::layers::#keyword as ::core::default::Default>::default())
                }
                (Act::Dropout, arg) => {
                    // Checked to be in (0, 1] by the check phase. Each dropout layer draws
                    // its masks from its own stream, seeded from its name.
                    let p = Literal::f64_suffixed(arg.map_or(0.5, |(value, _)| value));
                    let seed = Literal::u64_suffixed(name_seed(&self.name().to_string()));
                    quote!(::constnet::layers::Dropout::checked(#p, #seed))
                }
                _ => quote!(::constnet::layers::#keyword),
            },
            LayerKind::BatchNorm { momentum, eps, .. } => {
                // Both checked by the check phase.
                let momentum = Literal::f64_suffixed(momentum.map_or(0.9, |(value, _)| value));
                let eps = Literal::f64_suffixed(eps.map_or(1e-5, |(value, _)| value));
                quote!(::constnet::layers::BatchNorm::checked(#momentum, #eps))
            }
            LayerKind::Custom { ty, .. } => quote!(<#ty as ::core::default::Default>::default()),
        }
    }

    fn link_trait(&self) -> Ident {
        format_ident!("__ConstnetLink_{}", self.name())
    }

    /// Wraps a view of the previous layer's output so that it has this layer's input width,
    /// through this boundary's check trait when the widths were left to the type system.
    fn linked(&self, view: TokenStream, method: &str) -> TokenStream {
        match &self.deferred {
            None => view,
            Some(boundary) => {
                let link = self.link_trait();
                let method = Ident::new(method, Span::call_site());
                let (a, b) = (self.input.arg(), boundary.produced.arg());
                quote_spanned!(self.input.span()=> <() as #link<#a, #b>>::#method(#view))
            }
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
                .map(|j| dense(&layers[j]) && j >= 1 && relu(&layers[j - 1]))
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
}

fn field(prefix: &str, name: &Ident) -> Ident {
    format_ident!("{}_{}", prefix, name)
}

/// Everything for one checked network.
fn emit(model: &Model<'_>) -> TokenStream {
    let net = model.net;
    let generics = Generics::of(net);
    let net_struct = emit_struct(model, &generics);
    let tape_struct = emit_tape_struct(model, &generics);
    let links = model.layers.iter().map(emit_link_trait);
    let inherent = emit_inherent(model, &generics);
    let network_impl = emit_network_impl(model, &generics);
    let tape_impl = emit_tape_impl(model, &generics);
    let debug_impls = emit_debug_impls(model, &generics);
    quote! {
        #net_struct
        #tape_struct
        const _: () = {
            #(#links)*
            #inherent
            #network_impl
            #tape_impl
            #debug_impls
        };
    }
}

fn emit_struct(model: &Model<'_>, g: &Generics) -> TokenStream {
    let net = model.net;
    let (attrs, vis, ident, decl) = (&net.attrs, &net.vis, &net.ident, &g.decl);
    let fields = model.layers.iter().map(|layer| {
        let (attrs, vis, name, ty) = (&layer.decl.attrs, &layer.decl.vis, layer.name(), layer.ty());
        quote!(#(#attrs)* #vis #name: #ty,)
    });
    quote! {
        #(#attrs)*
        #[derive(Clone)]
        #vis struct #ident<#decl> {
            params: ::constnet::__private::AlignedBuffer<T>,
            state: ::std::vec::Vec<T>,
            #(#fields)*
        }
    }
}

fn emit_tape_struct(model: &Model<'_>, g: &Generics) -> TokenStream {
    let net = model.net;
    let (vis, decl) = (&net.vis, &g.decl);
    let tape = format_ident!("{}Tape", net.ident);
    let input = model.layers[0].input.arg();
    let doc = format!(
        "The training tape of [`{}`]: each layer's output, output gradient and cache for up \
         to `max_batch` samples, allocated once by `Network::new_tape` and reused.",
        net.ident
    );
    let fusion = Fusion::of(&model.layers);
    let fields = model.layers.iter().enumerate().map(|(i, layer)| {
        let (out, grad, cache) = (
            field("out", layer.name()),
            field("grad", layer.name()),
            field("cache", layer.name()),
        );
        let (o, as_layer) = (layer.output.arg(), layer.as_layer());
        let mask = fusion.forward_done_before(i).then(|| {
            let mask = field("mask", layer.name());
            quote!(#mask: ::constnet::layers::ReluMask,)
        });
        quote! {
            #out: ::constnet::Batch<T, #o>,
            #grad: ::constnet::Batch<T, #o>,
            #cache: #as_layer::Cache,
            #mask
        }
    });
    quote! {
        #[doc = #doc]
        #[allow(non_snake_case)]
        #vis struct #tape<#decl> {
            batch: usize,
            max_batch: usize,
            input: ::constnet::Batch<T, #input>,
            input_grad: ::constnet::Batch<T, #input>,
            /// What the layers' `backward_sgd` need (the most any of them does).
            sgd_scratch: ::std::vec::Vec<T>,
            #(#fields)*
        }
    }
}

/// The check of one boundary the macro could not decide: a trait implemented only when the
/// two widths are equal, whose message names the layers and the widths.
fn emit_link_trait(layer: &Resolved<'_>) -> TokenStream {
    let Some(boundary) = &layer.deferred else {
        return TokenStream::new();
    };
    let link = layer.link_trait();
    let message = format!(
        "layer `{}` expects {{A}} inputs but `{}` produces {{B}}",
        layer.name(),
        boundary.previous
    );
    let label = format!("`{}` takes {{A}} inputs here", layer.name());
    quote! {
        #[diagnostic::on_unimplemented(message = #message, label = #label)]
        #[allow(non_camel_case_types)]
        trait #link<const A: usize, const B: usize> {
            fn batch<'a, T: ::constnet::Float>(x: ::constnet::BatchView<'a, T, B>) -> ::constnet::BatchView<'a, T, A>;
            fn batch_mut<'a, T: ::constnet::Float>(x: ::constnet::BatchViewMut<'a, T, B>) -> ::constnet::BatchViewMut<'a, T, A>;
            fn one<T: ::constnet::Float>(x: &::constnet::Sample<T, B>) -> &::constnet::Sample<T, A>;
        }
        impl<const N: usize> #link<N, N> for () {
            #[inline(always)]
            fn batch<'a, T: ::constnet::Float>(x: ::constnet::BatchView<'a, T, N>) -> ::constnet::BatchView<'a, T, N> { x }
            #[inline(always)]
            fn batch_mut<'a, T: ::constnet::Float>(x: ::constnet::BatchViewMut<'a, T, N>) -> ::constnet::BatchViewMut<'a, T, N> { x }
            #[inline(always)]
            fn one<T: ::constnet::Float>(x: &::constnet::Sample<T, N>) -> &::constnet::Sample<T, N> { x }
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

/// `let (p_fc1, _rest) = _rest.split_at(PARAMS); ...` over `source`.
fn split_params(
    model: &Model<'_>,
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
    let lets = model.layers.iter().map(|layer| {
        let (name, as_layer) = (field(prefix, layer.name()), layer.as_layer());
        // A layer fused with its neighbour does not read its slices.
        quote!(#[allow(unused_variables)] let (#name, _rest) = _rest.#split(#as_layer::#count);)
    });
    quote! {
        let _rest = #source;
        #(#lets)*
    }
}

fn emit_inherent(model: &Model<'_>, g: &Generics) -> TokenStream {
    let net = model.net;
    let (ident, params, user_params, user_args) =
        (&net.ident, &g.params, &g.user_params, &g.user_args);
    let input = model.layers[0].input.expr();
    let output = model.layers[model.layers.len() - 1].output.expr();
    let as_layers: Vec<_> = model.layers.iter().map(Resolved::as_layer).collect();
    let names: Vec<_> = model.layers.iter().map(Resolved::name).collect();
    let constructors = model.layers.iter().map(Resolved::constructor);
    let p_names: Vec<_> = names.iter().map(|n| field("p", n)).collect();
    let s_names: Vec<_> = names.iter().map(|n| field("s", n)).collect();
    let splits = split_params(model, "p", quote!(&mut params[..]), Buffer::Params, true);
    let split_state = split_params(model, "s", quote!(&mut state[..]), Buffer::State, true);
    let init_doc = format!(
        "A `{ident}` with freshly initialized parameters, reproducible from `seed`: each \
         Dense layer as its `#[init(...)]` attribute says, and without one He \
         initialization if it feeds a ReLU-family activation, `N(0, 1) / sqrt(fan_in)` \
         otherwise, biases zero."
    );
    quote! {
        impl<#params> #ident<#user_args T> {
            /// Width of one input sample.
            pub const INPUT: usize = #input;
            /// Width of the output (the number of scores).
            pub const OUTPUT: usize = #output;
            /// Number of trainable parameters.
            pub const PARAM_COUNT: usize = 0 #(+ #as_layers::PARAMS)*;
            /// Number of elements of non-trainable state (batch norm's running statistics).
            pub const STATE_COUNT: usize = 0 #(+ #as_layers::STATE)*;

            #[doc = #init_doc]
            pub fn init(seed: u64) -> Self {
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
                    #( #as_layers::init(&net.#names, #p_names, &mut rng); )*
                    #( #as_layers::init_state(&net.#names, #s_names); )*
                }
                #ident { params, state, ..net }
            }

            /// The same network with its parameters converted to scalar `U` (for example a
            /// trained `f32` network in `f64` for a gradient check).
            pub fn cast<U: ::constnet::Float>(&self) -> #ident<#user_args U> {
                #ident {
                    params: self.params.iter().map(|&v| ::constnet::Float::cast::<U>(v)).collect(),
                    state: self.state.iter().map(|&v| ::constnet::Float::cast::<U>(v)).collect(),
                    #(#names: ::core::clone::Clone::clone(&self.#names),)*
                }
            }
        }

        impl<#user_params> #ident<#user_args f32> {
            /// An `f32` network initialized from `seed` (see `init`).
            pub fn new(seed: u64) -> Self {
                Self::init(seed)
            }
        }
    }
}

/// The views each layer reads in a pass over the tape: its input (the previous layer's
/// output, or the tape's input) and its output.
fn input_view(model: &Model<'_>, index: usize) -> TokenStream {
    if index == 0 {
        quote!(tape.input.columns(0, batch))
    } else {
        let previous = field("out", model.layers[index - 1].name());
        model.layers[index].linked(quote!(tape.#previous.columns(0, batch)), "batch")
    }
}

fn emit_network_impl(model: &Model<'_>, g: &Generics) -> TokenStream {
    let net = model.net;
    let (ident, params, user_args) = (&net.ident, &g.params, &g.user_args);
    let tape = format_ident!("{}Tape", net.ident);
    let layers = &model.layers;
    let last = &layers[layers.len() - 1];
    let (input, output) = (layers[0].input.arg(), last.output.arg());
    let out_last = field("out", last.name());
    let as_layers: Vec<_> = layers.iter().map(Resolved::as_layer).collect();
    let names: Vec<_> = layers.iter().map(Resolved::name).collect();
    let name_strs: Vec<_> = names.iter().map(|n| n.to_string()).collect();
    let p_names: Vec<_> = names.iter().map(|n| field("p", n)).collect();
    let g_names: Vec<_> = names.iter().map(|n| field("g", n)).collect();
    let outs: Vec<_> = names.iter().map(|n| field("out", n)).collect();
    let grads: Vec<_> = names.iter().map(|n| field("grad", n)).collect();
    let caches: Vec<_> = names.iter().map(|n| field("cache", n)).collect();
    let input_exprs = layers.iter().map(|l| l.input.expr());
    let output_exprs = layers.iter().map(|l| l.output.expr());
    let inputs: Vec<_> = (0..layers.len()).map(|i| input_view(model, i)).collect();
    let s_names: Vec<_> = names.iter().map(|n| field("s", n)).collect();
    let split_p = split_params(model, "p", quote!(&self.params[..]), Buffer::Params, false);
    let split_s = split_params(model, "s", quote!(&self.state[..]), Buffer::State, false);
    let split_s_mut = split_params(model, "s", quote!(&mut self.state[..]), Buffer::State, true);
    let split_g = split_params(model, "g", quote!(grads), Buffer::Params, true);

    let fusion = Fusion::of(layers);
    let masks: Vec<_> = names.iter().map(|n| field("mask", n)).collect();
    let new_masks = layers.iter().enumerate().filter_map(|(i, layer)| {
        let (mask, width) = (&masks[i], layer.output.expr());
        fusion
            .forward_done_before(i)
            .then(|| quote!(#mask: ::constnet::layers::ReluMask::new(#width, max_batch),))
    });
    // A ReLU whose `Dense` wrote its output reads that output as its input (see `Fusion`).
    let inputs: Vec<_> = (0..layers.len())
        .map(|i| {
            if fusion.forward_done_before(i) {
                let out = &outs[i];
                quote!(tape.#out.columns(0, batch))
            } else {
                inputs[i].clone()
            }
        })
        .collect();

    // forward of one sample: h_<layer> = layer(h_<previous>)
    let hs: Vec<_> = names.iter().map(|n| field("h", n)).collect();
    let one_steps = layers.iter().enumerate().map(|(i, layer)| {
        let (as_layer, name, p, st, h) =
            (&as_layers[i], &names[i], &p_names[i], &s_names[i], &hs[i]);
        let input = if i == 0 {
            quote!(x)
        } else {
            let previous = &hs[i - 1];
            layer.linked(quote!(&#previous), "one")
        };
        if fusion.forward[i] {
            let (ty, relu_h) = (layer.ty(), &hs[i + 1]);
            quote!(let #relu_h = <#ty>::forward_one_relu(&self.#name, #p, #input);)
        } else if fusion.forward_done_before(i) {
            quote!()
        } else {
            quote!(let #h = #as_layer::forward_one(&self.#name, #p, #st, #input);)
        }
    });
    let h_last = &hs[hs.len() - 1];

    // The batched forward steps, in evaluation (`x` read in place) or training mode.
    let forward_steps = |train: bool| -> Vec<TokenStream> {
        layers
            .iter()
            .enumerate()
            .map(|(i, layer)| {
                let (as_layer, name, p, st) = (&as_layers[i], &names[i], &p_names[i], &s_names[i]);
                let (out, cache) = (&outs[i], &caches[i]);
                let input = if i == 0 && !train {
                    quote!(x)
                } else {
                    inputs[i].clone()
                };
                if fusion.forward[i] {
                    let (ty, relu_out, mask) = (layer.ty(), &outs[i + 1], &masks[i + 1]);
                    quote! {
                        <#ty>::forward_relu(
                            &self.#name, #p, #input, tape.#relu_out.columns_mut(0, batch),
                            ::core::option::Option::Some(&mut tape.#mask),
                        );
                    }
                } else if fusion.forward_done_before(i) {
                    quote!()
                } else if train {
                    quote! {
                        #as_layer::forward_train(
                            &self.#name, #p, #st, #input, tape.#out.columns_mut(0, batch), &mut tape.#cache,
                        );
                    }
                } else {
                    quote!(#as_layer::forward(&self.#name, #p, #st, #input, tape.#out.columns_mut(0, batch));)
                }
            })
            .collect()
    };
    let eval_steps = forward_steps(false);
    let train_steps = forward_steps(true);

    // backward, last layer first: dx of layer k is the output gradient of layer k - 1 (of
    // layer k - 2 when a fused ReLU sits between them). A network that starts `Dense`,
    // `Relu`, `Dense` first tries the third layer's kernel that also does the first's
    // gradients (`Dense::backward_through_relu_into_first`), when no input gradient is
    // asked for; `first_done` says whether it ran.
    // Where layer `i > 0` writes its input gradient: the output gradient of the layer before
    // it, or of the one before that when a fused ReLU sits between them (the first layer is
    // never a ReLU, so a fused one has a layer before it).
    let dx_view = |i: usize, layer: &Resolved<'_>| {
        let previous = &grads[if fusion.backward[i] { i - 2 } else { i - 1 }];
        let view = layer.linked(quote!(tape.#previous.columns_mut(0, batch)), "batch_mut");
        quote!(::core::option::Option::Some(#view))
    };
    // The mask of the ReLU before layer `i`, where that ReLU's forward was fused too.
    let relu_mask = |i: usize| {
        if fusion.forward_done_before(i - 1) {
            let mask = &masks[i - 1];
            quote!(::core::option::Option::Some(&tape.#mask))
        } else {
            quote!(::core::option::Option::None)
        }
    };
    let backward_step = |i: usize, layer: &Resolved<'_>| {
        let (as_layer, name, p, gr) = (&as_layers[i], &names[i], &p_names[i], &g_names[i]);
        let (x, out, grad, cache) = (&inputs[i], &outs[i], &grads[i], &caches[i]);
        if fusion.backward_done_after(i) {
            return quote!();
        }
        let dx = if i == 0 {
            quote! {
                if input_grad { ::core::option::Option::Some(tape.input_grad.columns_mut(0, batch)) }
                else { ::core::option::Option::None }
            }
        } else {
            dx_view(i, layer)
        };
        if fusion.backward[i] {
            let (ty, mask) = (layer.ty(), relu_mask(i));
            return quote! {
                <#ty>::backward_through_relu(
                    &self.#name, #p, #x, tape.#grad.columns(0, batch), #dx, #gr, !overwrite, #mask,
                );
            };
        }
        let args = quote! {
            &self.#name, #p, #x, tape.#out.columns(0, batch), &mut tape.#cache,
            tape.#grad.columns(0, batch), #dx, #gr,
        };
        quote! {
            if overwrite {
                #as_layer::backward_overwrite(#args);
            } else {
                #as_layer::backward(#args);
            }
        }
    };

    let first_pair = fusion.forward[0] && fusion.backward.get(2).copied().unwrap_or(false);
    // Layer `i`'s step, where a network that starts `Dense`, `Relu`, `Dense` first tries
    // (`attempt`, a `bool` expression) the third layer's kernel that also does the first
    // layer's part: the third and first layers' own steps then run only if it declined.
    // `attempt` builds the call for the third layer (so `2` and `1` index layers then).
    let with_first_pair = |i: usize, step: TokenStream, attempt: &dyn Fn() -> TokenStream| match i {
        2 if first_pair => {
            let attempt = attempt();
            quote! {
                let first_done = #attempt;
                if !first_done {
                    #step
                }
            }
        }
        0 if first_pair => quote!(if !first_done { #step }),
        _ => step,
    };
    let backward_steps = layers.iter().enumerate().rev().map(|(i, layer)| {
        let attempt = || {
            let (ty, name, p, g, x, grad) = (
                layer.ty(),
                &names[2],
                &p_names[2],
                &g_names[2],
                &inputs[2],
                &grads[2],
            );
            let (x0, g0, mask) = (&inputs[0], &g_names[0], &masks[1]);
            quote! {
                !input_grad
                    && <#ty>::backward_through_relu_into_first(
                        &self.#name, #p, #x, tape.#grad.columns(0, batch), #g, #x0, #g0,
                        !overwrite, ::core::option::Option::Some(&tape.#mask),
                    )
            }
        };
        with_first_pair(i, backward_step(i, layer), &attempt)
    });
    // backward with an SGD step in each layer (see `Network::backward_sgd`)
    let split_p_mut = split_params(
        model,
        "p",
        quote!(&mut self.params[..]),
        Buffer::Params,
        true,
    );
    let sgd_step = |i: usize, layer: &Resolved<'_>| {
        let (as_layer, name, p) = (&as_layers[i], &names[i], &p_names[i]);
        let (x, out, grad, cache) = (&inputs[i], &outs[i], &grads[i], &caches[i]);
        if fusion.backward_done_after(i) {
            return quote!();
        }
        let dx = if i == 0 {
            quote!(::core::option::Option::None)
        } else {
            dx_view(i, layer)
        };
        if fusion.backward[i] {
            let (ty, mask) = (layer.ty(), relu_mask(i));
            return quote! {
                <#ty>::backward_through_relu_sgd(
                    &self.#name, #p, #x, tape.#grad.columns(0, batch), #dx, lr, weight_decay,
                    #mask, &mut tape.sgd_scratch[..],
                );
            };
        }
        quote! {
            #as_layer::backward_sgd(
                &self.#name, #p, #x, tape.#out.columns(0, batch), &mut tape.#cache,
                tape.#grad.columns(0, batch), #dx, lr, weight_decay, &mut tape.sgd_scratch[..],
            );
        }
    };

    // As in backward: the first layer's step in the third layer's kernel, where it applies.
    let sgd_steps = layers.iter().enumerate().rev().map(|(i, layer)| {
        let attempt = || {
            let (ty, name, p, x, grad) =
                (layer.ty(), &names[2], &p_names[2], &inputs[2], &grads[2]);
            let (x0, p0, mask) = (&inputs[0], &p_names[0], &masks[1]);
            quote! {
                <#ty>::backward_through_relu_into_first_sgd(
                    &self.#name, #p, #x, tape.#grad.columns(0, batch), #x0, #p0,
                    (lr, weight_decay), ::core::option::Option::Some(&tape.#mask),
                    &mut tape.sgd_scratch[..],
                )
            }
        };
        with_first_pair(i, sgd_step(i, layer), &attempt)
    });

    let check_batch = quote! {
        let batch = x.ncols();
        if batch == 0 {
            return ::core::result::Result::Err(::constnet::Error::EmptyBatch);
        }
        if batch > tape.max_batch {
            return ::core::result::Result::Err(::constnet::Error::BatchTooLarge {
                max: tape.max_batch,
                got: batch,
            });
        }
        tape.batch = batch;
    };
    // Evaluation reads the caller's batch in place; training keeps a copy for backward.
    let keep_input = quote!(tape.input.columns_mut(0, batch).copy_from(&x););

    quote! {
        impl<#params> ::constnet::Network<T, #input, #output> for #ident<#user_args T> {
            type Tape = #tape<#user_args T>;
            const PARAM_COUNT: usize = Self::PARAM_COUNT;
            const STATE_COUNT: usize = Self::STATE_COUNT;

            fn init(seed: u64) -> Self {
                Self::init(seed)
            }

            fn params(&self) -> &[T] {
                &self.params
            }

            fn params_mut(&mut self) -> &mut [T] {
                &mut self.params
            }

            fn state(&self) -> &[T] {
                &self.state
            }

            fn state_mut(&mut self) -> &mut [T] {
                &mut self.state
            }

            fn for_each_tensor(&self, f: &mut dyn FnMut(::constnet::TensorRef)) {
                let mut offset = 0;
                #(
                    for spec in #as_layers::TENSORS {
                        f(::constnet::TensorRef { layer: #name_strs, spec, offset: offset + spec.offset });
                    }
                    offset += #as_layers::PARAMS;
                )*
                let _ = offset;
            }

            fn for_each_state_tensor(&self, f: &mut dyn FnMut(::constnet::TensorRef)) {
                let mut offset = 0;
                #(
                    for spec in #as_layers::STATE_TENSORS {
                        f(::constnet::TensorRef { layer: #name_strs, spec, offset: offset + spec.offset });
                    }
                    offset += #as_layers::STATE;
                )*
                let _ = offset;
            }

            fn layers(&self) -> ::std::vec::Vec<::constnet::LayerInfo> {
                ::std::vec![#(
                    ::constnet::LayerInfo {
                        name: #name_strs,
                        kind: #as_layers::kind(&self.#names),
                        inputs: #input_exprs,
                        outputs: #output_exprs,
                        params: #as_layers::PARAMS,
                    }
                ),*]
            }

            #[inline]
            fn forward(&self, x: &::constnet::Sample<T, #input>) -> ::constnet::Sample<T, #output> {
                #split_p
                #split_s
                #(#one_steps)*
                #h_last
            }

            fn new_tape(&self, max_batch: usize) -> Self::Tape {
                #tape {
                    batch: 0,
                    max_batch,
                    input: ::constnet::batch::zeros(max_batch),
                    input_grad: ::constnet::batch::zeros(max_batch),
                    sgd_scratch: ::std::vec![T::ZERO; {
                        let mut most = 0;
                        #( if #as_layers::SGD_SCRATCH > most { most = #as_layers::SGD_SCRATCH; } )*
                        most
                    }],
                    #(
                        #outs: ::constnet::batch::zeros(max_batch),
                        #grads: ::constnet::batch::zeros(max_batch),
                        #caches: #as_layers::new_cache(&self.#names, max_batch),
                    )*
                    #(#new_masks)*
                }
            }

            fn forward_into<'t>(
                &self,
                x: ::constnet::BatchView<'_, T, #input>,
                tape: &'t mut Self::Tape,
            ) -> ::core::result::Result<::constnet::BatchView<'t, T, #output>, ::constnet::Error> {
                #check_batch
                #split_p
                #split_s
                #(#eval_steps)*
                ::core::result::Result::Ok(tape.#out_last.columns(0, batch))
            }

            fn forward_train<'t>(
                &mut self,
                x: ::constnet::BatchView<'_, T, #input>,
                tape: &'t mut Self::Tape,
            ) -> ::core::result::Result<::constnet::BatchView<'t, T, #output>, ::constnet::Error> {
                #check_batch
                #keep_input
                #split_p
                #split_s_mut
                #(#train_steps)*
                ::core::result::Result::Ok(tape.#out_last.columns(0, batch))
            }

            fn backward_into(
                &self,
                tape: &mut Self::Tape,
                grads: &mut [T],
                input_grad: bool,
                overwrite: bool,
            ) -> ::core::result::Result<(), ::constnet::Error> {
                if grads.len() != Self::PARAM_COUNT {
                    return ::core::result::Result::Err(::constnet::Error::WrongLength {
                        what: ::std::string::String::from("gradient buffer"),
                        expected: Self::PARAM_COUNT,
                        got: grads.len(),
                    });
                }
                let batch = tape.batch;
                if batch == 0 {
                    return ::core::result::Result::Err(::constnet::Error::EmptyBatch);
                }
                #split_p
                #split_g
                #(#backward_steps)*
                ::core::result::Result::Ok(())
            }

            fn backward_sgd(
                &mut self,
                tape: &mut Self::Tape,
                lr: T,
                weight_decay: T,
            ) -> ::core::result::Result<(), ::constnet::Error> {
                ::constnet::network::check_sgd_rates(lr, weight_decay)?;
                let batch = tape.batch;
                if batch == 0 {
                    return ::core::result::Result::Err(::constnet::Error::EmptyBatch);
                }
                #split_p_mut
                #(#sgd_steps)*
                ::core::result::Result::Ok(())
            }

            fn record_kinks(&self, tape: &Self::Tape, kinks: &mut ::constnet::Kinks) {
                let batch = tape.batch;
                #split_p
                #( #as_layers::record_kinks(&self.#names, #p_names, #inputs, kinks); )*
            }
        }
    }
}

fn emit_tape_impl(model: &Model<'_>, g: &Generics) -> TokenStream {
    let (params, user_args) = (&g.params, &g.user_args);
    let tape = format_ident!("{}Tape", model.net.ident);
    let layers = &model.layers;
    let last = layers[layers.len() - 1].name();
    let (out_last, grad_last) = (field("out", last), field("grad", last));
    let (input, output) = (layers[0].input.arg(), layers[layers.len() - 1].output.arg());
    let freezes = layers.iter().map(|layer| {
        let (as_layer, cache) = (layer.as_layer(), field("cache", layer.name()));
        quote!(#as_layer::freeze_masks(&mut self.#cache, frozen);)
    });
    quote! {
        impl<#params> ::constnet::Tape<T, #input, #output> for #tape<#user_args T> {
            fn freeze_masks(&mut self, frozen: bool) {
                #(#freezes)*
            }

            fn max_batch(&self) -> usize {
                self.max_batch
            }

            fn batch(&self) -> usize {
                self.batch
            }

            fn output(&self) -> ::constnet::BatchView<'_, T, #output> {
                self.#out_last.columns(0, self.batch)
            }

            fn output_and_grad_mut(
                &mut self,
            ) -> (::constnet::BatchView<'_, T, #output>, ::constnet::BatchViewMut<'_, T, #output>) {
                (self.#out_last.columns(0, self.batch), self.#grad_last.columns_mut(0, self.batch))
            }

            fn input_grad(&self) -> ::constnet::BatchView<'_, T, #input> {
                self.input_grad.columns(0, self.batch)
            }
        }
    }
}

fn emit_debug_impls(model: &Model<'_>, g: &Generics) -> TokenStream {
    let net = model.net;
    let (ident, params, user_args) = (&net.ident, &g.params, &g.user_args);
    let tape = format_ident!("{}Tape", net.ident);
    let (ident_str, tape_str) = (ident.to_string(), tape.to_string());
    let names: Vec<_> = model.layers.iter().map(Resolved::name).collect();
    let name_strs = names.iter().map(|n| n.to_string());
    quote! {
        impl<#params> ::core::fmt::Debug for #ident<#user_args T> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#ident_str)
                    #(.field(#name_strs, &self.#names))*
                    .field("params", &::core::format_args!("[{}; {}]", <T as ::constnet::Float>::NAME, self.params.len()))
                    .finish()
            }
        }

        impl<#params> ::core::fmt::Debug for #tape<#user_args T> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#tape_str)
                    .field("batch", &self.batch)
                    .field("max_batch", &self.max_batch)
                    .finish_non_exhaustive()
            }
        }
    }
}

/// The declared type with no behavior, emitted beside errors.
fn stub(net: &NetDecl) -> TokenStream {
    let (vis, ident) = (&net.vis, &net.ident);
    let docs = net.attrs.iter().filter(|a| a.path().is_ident("doc"));
    let g = Generics::of(net);
    let user_params = &g.user_params;
    let comma = if net.generics.params.is_empty() {
        quote!()
    } else {
        quote!(,)
    };
    quote! {
        #(#docs)*
        #vis struct #ident<#user_params #comma T = f32>(::core::marker::PhantomData<T>);
    }
}

/// A seed from a layer's name (FNV-1a), so that two dropout layers draw different masks.
fn name_seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
