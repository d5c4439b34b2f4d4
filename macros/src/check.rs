//! The rules a declaration must follow, one function each, every error attached to the
//! offending token. All rules run, so one build reports every mistake.
//!
//! The output is a [`Model`]: each layer with its resolved input and output widths, and for
//! every boundary the macro could not decide (a `const` item or an expression), a note that
//! the expansion must have a constant evaluation check it.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::{GenericParam, Ident};

use crate::ast::{Act, Affine, LayerDecl, LayerKind, NetDecl, Scheme, Width};

/// A checked network: what was resolved about each of its layers.
pub struct Model<'a> {
    pub layers: Vec<Resolved<'a>>,
}

/// One layer with its widths resolved.
pub struct Resolved<'a> {
    pub decl: &'a LayerDecl,
    /// The width the layer takes, as its own type states it.
    pub input: Width,
    /// The width it produces.
    pub output: Width,
    /// Set when the layer's declared input width could not be compared with the previous
    /// layer's output by the macro: the expansion then has a constant evaluation check it.
    pub deferred: Option<Boundary<'a>>,
    /// For a `Dense` layer: whether a ReLU-family activation follows (He initialization).
    pub feeds_relu: bool,
    /// For a `Dense` or `Maxout` layer: what its `#[init(...)]` attribute asks for.
    pub init: InitChoice,
}

/// A `Dense` or `Maxout` layer's checked `#[init(...)]` attribute; both parts `None` without one.
#[derive(Clone, Copy, Default)]
pub struct InitChoice {
    /// The scheme, with sparse's connection count when given.
    pub scheme: Option<(Scheme, Option<usize>)>,
    /// The constant the biases start at.
    pub bias: Option<f64>,
}

impl InitChoice {
    fn of(layer: &LayerDecl) -> Self {
        let Some(attr) = layer.inits.first() else {
            return InitChoice::default();
        };
        InitChoice {
            scheme: attr
                .scheme
                .as_ref()
                .and_then(|s| Some((s.scheme()?, s.arg.as_ref().map(|(n, _)| *n)))),
            bias: attr.bias_value(),
        }
    }
}

/// A boundary between two layers whose widths only a constant evaluation can compare.
pub struct Boundary<'a> {
    pub previous: &'a Ident,
    pub produced: Width,
}

/// Runs every rule; returns the model, or all the errors found.
pub fn check(net: &NetDecl) -> Result<Model<'_>, syn::Error> {
    let mut errors = Errors::default();
    generics_are_const_widths(net, &mut errors);
    network_is_not_empty(net, &mut errors);
    layer_names_are_unique(net, &mut errors);
    layer_names_are_not_reserved(net, &mut errors);
    widths_are_not_zero(net, &mut errors);
    custom_layers_name_their_width(net, &mut errors);
    activation_arguments_are_in_range(net, &mut errors);
    batch_norm_arguments_are_in_range(net, &mut errors);
    init_attributes_are_on_affine_layers(net, &mut errors);
    init_attributes_are_not_repeated(net, &mut errors);
    init_schemes_are_known(net, &mut errors);
    init_scheme_arguments_are_valid(net, &mut errors);
    sparse_connections_fit_the_input(net, &mut errors);
    init_biases_are_finite(net, &mut errors);
    let layers = resolve_widths(net, &mut errors);
    errors.finish()?;
    Ok(Model { layers })
}

#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        self.add(syn::Error::new(span, message));
    }

    /// An error spanning all of `tokens` (their first to last token, also on stable Rust).
    fn push_spanned(&mut self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.add(syn::Error::new_spanned(tokens, message));
    }

    fn add(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

/// A network's generic parameters can only be widths (`const H: usize`), and `T` is taken:
/// the generated struct adds its scalar type parameter `T`.
fn generics_are_const_widths(net: &NetDecl, errors: &mut Errors) {
    for param in &net.generics.params {
        match param {
            GenericParam::Const(c) if c.ident == "T" => errors.push(
                c.ident.span(),
                "`T` is the network's scalar type parameter; name the width something else",
            ),
            GenericParam::Const(_) => {}
            other => errors.push(
                syn::spanned::Spanned::span(other),
                "a network's generic parameters are widths: `const H: usize`",
            ),
        }
    }
}

/// A network has at least one layer.
fn network_is_not_empty(net: &NetDecl, errors: &mut Errors) {
    if net.layers.is_empty() {
        errors.push(
            net.ident.span(),
            format!(
                "network `{}` has no layers; declare at least one, e.g. `fc: Dense<4, 2>`",
                net.ident
            ),
        );
    }
}

/// Every layer has its own name: names address parameters (`fc1.weight`).
fn layer_names_are_unique(net: &NetDecl, errors: &mut Errors) {
    let mut seen = HashMap::new();
    for layer in &net.layers {
        if seen.insert(layer.name.to_string(), ()).is_some() {
            errors.push(
                layer.name.span(),
                format!(
                    "duplicate layer name `{}`: each layer needs its own name",
                    layer.name
                ),
            );
        }
    }
}

/// `params` and `state` are the generated struct's parameter and state buffers.
fn layer_names_are_not_reserved(net: &NetDecl, errors: &mut Errors) {
    for layer in &net.layers {
        let buffer = match layer.name.to_string().as_str() {
            "params" => "parameter",
            "state" => "state",
            _ => continue,
        };
        errors.push(
            layer.name.span(),
            format!(
                "`{}` is reserved for the network's {buffer} buffer; name the layer something else",
                layer.name
            ),
        );
    }
}

/// A literal width is at least 1, and so is a literal number of Maxout pieces.
fn widths_are_not_zero(net: &NetDecl, errors: &mut Errors) {
    for layer in &net.layers {
        if let LayerKind::Affine {
            affine:
                Affine::Maxout {
                    pieces: Some(Width::Lit { value: 0, lit }),
                },
            ..
        } = &layer.kind
        {
            errors.push(
                lit.span(),
                format!(
                    "Maxout layer `{}` has zero pieces; it needs at least 1 (2 is usual)",
                    layer.name
                ),
            );
        }
        let widths: Vec<&Width> = match &layer.kind {
            LayerKind::Affine { input, output, .. } => vec![input, output],
            LayerKind::Custom {
                output: Some(output),
                ..
            } => vec![output],
            _ => vec![],
        };
        for width in widths {
            if let Width::Lit { value: 0, lit } = width {
                errors.push(
                    lit.span(),
                    format!(
                        "layer `{}` has a zero width; widths are at least 1",
                        layer.name
                    ),
                );
            }
        }
    }
}

/// A layer that is not built in must say how wide its output is; without that it is most
/// likely a misspelled or unsupported kind.
fn custom_layers_name_their_width(net: &NetDecl, errors: &mut Errors) {
    for layer in &net.layers {
        if let LayerKind::Custom { ty, output: None } = &layer.kind {
            let ty_text = quote::quote!(#ty).to_string().replace(' ', "");
            errors.push(
                syn::spanned::Spanned::span(ty),
                format!(
                    "unknown layer kind `{ty_text}`; the built-in layers are Dense, Maxout, \
                     Relu, LeakyRelu, Sigmoid, Tanh, Elu, Dropout, BatchNorm and LayerNorm, and a custom \
                     layer (a type implementing `constnet::Layer`) names its output width: \
                     `{}: {ty_text} => OUT`",
                    layer.name
                ),
            );
        }
    }
}

/// Leaky ReLU's slope is in [0, 1); ELU's alpha is positive; both finite.
fn activation_arguments_are_in_range(net: &NetDecl, errors: &mut Errors) {
    for layer in &net.layers {
        if let LayerKind::Activation {
            act,
            arg: Some((value, span)),
            ..
        } = &layer.kind
        {
            let (ok, rule) = match act {
                Act::LeakyRelu => ((0.0..1.0).contains(value), "a slope in [0, 1)"),
                Act::Dropout => (
                    *value > 0.0 && *value <= 1.0,
                    "a probability of keeping a unit in (0, 1]",
                ),
                _ => (value.is_finite() && *value > 0.0, "a positive alpha"),
            };
            if !ok {
                errors.push(
                    *span,
                    format!(
                        "layer `{}`: {} is out of range, expected {rule}",
                        layer.name,
                        number(*value)
                    ),
                );
            }
        }
    }
}

/// Batch norm's momentum is in [0, 1), and batch and layer norm's eps positive and finite.
fn batch_norm_arguments_are_in_range(net: &NetDecl, errors: &mut Errors) {
    for layer in &net.layers {
        let LayerKind::Norm {
            norm,
            momentum,
            eps,
            ..
        } = &layer.kind
        else {
            continue;
        };
        let rules = [
            (momentum, "momentum", "in [0, 1)", 0.0..1.0),
            (
                eps,
                "eps",
                "finite and at least 1.2e-38 (f32's smallest normal number), so that it is \
                 not 0 in an f32 network",
                f64::from(f32::MIN_POSITIVE)..f64::INFINITY,
            ),
        ];
        for (arg, name, rule, range) in rules {
            if let Some((value, span)) = arg
                && !range.contains(value)
            {
                errors.push(
                    *span,
                    format!(
                        "layer `{}`: {} {name} {} is out of range, expected {rule}",
                        layer.name,
                        norm.describe(),
                        number(*value)
                    ),
                );
            }
        }
    }
}

/// `#[init]` sets how a `Dense` or `Maxout` layer's weights and biases start; the other
/// layers either have no parameters or initialize their own.
fn init_attributes_are_on_affine_layers(net: &NetDecl, errors: &mut Errors) {
    for layer in &net.layers {
        let what = match &layer.kind {
            LayerKind::Affine { .. } => continue,
            LayerKind::Activation { keyword, .. } => {
                format!("a `{keyword}` activation, which has no parameters")
            }
            LayerKind::Norm { keyword, .. } => {
                format!("a `{keyword}` layer, whose scale starts at 1 and shift at 0")
            }
            LayerKind::Custom { .. } => {
                "a custom layer, which initializes its own parameters in `Layer::init`".into()
            }
        };
        for attr in &layer.inits {
            errors.push(
                attr.path.span(),
                format!(
                    "`#[init]` applies to `Dense` and `Maxout` layers only, and layer `{}` is {what}",
                    layer.name
                ),
            );
        }
    }
}

/// A layer has at most one `#[init]` attribute: two could disagree.
fn init_attributes_are_not_repeated(net: &NetDecl, errors: &mut Errors) {
    for layer in &net.layers {
        for attr in layer.inits.iter().skip(1) {
            errors.push(
                attr.path.span(),
                format!(
                    "layer `{}` has more than one `#[init]` attribute; merge them into one, \
                     e.g. `#[init(he, bias = 0.01)]`",
                    layer.name
                ),
            );
        }
    }
}

/// A scheme is one of `Scheme::ALL`.
fn init_schemes_are_known(net: &NetDecl, errors: &mut Errors) {
    let names: Vec<&str> = Scheme::ALL.iter().map(|(name, _)| *name).collect();
    for layer in &net.layers {
        for scheme in layer.inits.iter().filter_map(|a| a.scheme.as_ref()) {
            if scheme.scheme().is_none() {
                errors.push(
                    scheme.name.span(),
                    format!(
                        "unknown init scheme `{}` on layer `{}`; the schemes are {}, and \
                         sparse(N) for N connections per neuron",
                        scheme.name,
                        layer.name,
                        names.join(", ")
                    ),
                );
            }
        }
    }
}

/// Only `sparse` takes an argument, and its connection count is at least 1.
fn init_scheme_arguments_are_valid(net: &NetDecl, errors: &mut Errors) {
    for layer in &net.layers {
        for scheme in layer.inits.iter().filter_map(|a| a.scheme.as_ref()) {
            let (Some(kind), Some((value, lit))) = (scheme.scheme(), &scheme.arg) else {
                continue;
            };
            if !kind.takes_argument() {
                errors.push(
                    lit.span(),
                    format!(
                        "init scheme `{}` takes no argument; only sparse(N) does",
                        scheme.name
                    ),
                );
            } else if *value == 0 {
                errors.push(
                    lit.span(),
                    format!(
                        "sparse(0) would connect layer `{}`'s neurons to no input; \
                         use at least sparse(1)",
                        layer.name
                    ),
                );
            }
        }
    }
}

/// `sparse(N)` cannot connect a neuron to more inputs than the layer has, when its input
/// width is a literal (a named width is only known to the type system; at run time,
/// `N >= fan_in` connects every input).
fn sparse_connections_fit_the_input(net: &NetDecl, errors: &mut Errors) {
    for layer in &net.layers {
        let LayerKind::Affine {
            input: Width::Lit { value: width, .. },
            ..
        } = &layer.kind
        else {
            continue;
        };
        for scheme in layer.inits.iter().filter_map(|a| a.scheme.as_ref()) {
            if let (Some(Scheme::Sparse), Some((connections, lit))) = (scheme.scheme(), &scheme.arg)
                && connections > width
            {
                errors.push(
                    lit.span(),
                    format!(
                        "layer `{}` has {width} inputs, so its neurons cannot have \
                         {connections} connections each; use at most sparse({width})",
                        layer.name
                    ),
                );
            }
        }
    }
}

/// A bias is a finite number literal, possibly negative.
fn init_biases_are_finite(net: &NetDecl, errors: &mut Errors) {
    for layer in &net.layers {
        for attr in &layer.inits {
            let Some(expr) = &attr.bias else { continue };
            if !attr.bias_value().is_some_and(f64::is_finite) {
                let text = quote::quote!(#expr).to_string().replace(' ', "");
                errors.push_spanned(
                    expr,
                    format!(
                        "the bias of layer `{}` must be a finite number, like \
                         `bias = 0.01`; `{text}` is not",
                        layer.name
                    ),
                );
            }
        }
    }
}

/// The first layer fixes the network's input width, and every layer's input width equals
/// the previous layer's output width. Literal widths and const generic parameters are
/// compared here; a pair with a `const` item or an expression is left to a constant
/// evaluation.
fn resolve_widths<'a>(net: &'a NetDecl, errors: &mut Errors) -> Vec<Resolved<'a>> {
    let mut resolved: Vec<Resolved<'a>> = Vec::new();
    for (index, layer) in net.layers.iter().enumerate() {
        let previous = resolved.last().map(|r| (&r.decl.name, r.output.clone()));
        let feeds_relu = matches!(
            net.layers.get(index + 1).map(|l| &l.kind),
            Some(LayerKind::Activation { act, .. }) if act.is_relu_family()
        );
        // A layer that fixes its input width: `Dense`, `Maxout`, or a width-keeping layer
        // with its width written (`Relu<16>`), which outputs that width too.
        let fixed = match &layer.kind {
            LayerKind::Affine { input, output, .. } => Some((input, output)),
            kind => kind.written_width().map(|w| (w, w)),
        };
        let (input, output, deferred) = match (fixed, previous) {
            (Some((input, output)), None) => (input.clone(), output.clone(), None),
            (Some((input, output)), Some((previous, produced))) => {
                let deferred = match input.same_as(&produced, &net.generics) {
                    Some(true) => None,
                    // A zero width is an error of its own (`widths_are_not_zero`).
                    Some(false) if input.is_zero() || produced.is_zero() => None,
                    Some(false) => {
                        let hint = width_hint(net, &resolved, input);
                        errors.push(
                            input.span(),
                            format!(
                                "layer `{}` expects {} inputs but `{previous}` produces {}{hint}",
                                layer.name,
                                input.describe(),
                                produced.describe()
                            ),
                        );
                        None
                    }
                    None => Some(Boundary { previous, produced }),
                };
                (input.clone(), output.clone(), deferred)
            }
            (None, None) => {
                errors.push(
                    layer.name.span(),
                    format!(
                        "the first layer must fix the network's input width: start with \
                         `Dense<IN, OUT>` or `Maxout<IN, OUT, K>`, or write the width of \
                         `{}` (`Relu<16>`, `LayerNorm<64>`)",
                        layer.name
                    ),
                );
                return resolved;
            }
            (None, Some((_, produced))) => match &layer.kind {
                LayerKind::Custom { output, .. } => match output {
                    Some(output) => (produced, output.clone(), None),
                    None => return resolved,
                },
                _ => (produced.clone(), produced, None),
            },
        };
        resolved.push(Resolved {
            decl: layer,
            input,
            output,
            deferred,
            feeds_relu,
            init: InitChoice::of(layer),
        });
    }
    resolved
}

/// What to add to a width mismatch: after a `Maxout` (possibly behind layers that keep the
/// width, such as `Dropout`), a reminder that its output is `OUT` wide, not `K * OUT` (its
/// weight has `K * OUT` rows, which is easy to take for its output); when a const generic
/// parameter is involved, that the compiler never takes two different ones, or one and a
/// number, for the same width.
fn width_hint(net: &NetDecl, resolved: &[Resolved<'_>], input: &Width) -> String {
    let source = resolved.iter().rev().find(|r| {
        !matches!(
            r.decl.kind,
            LayerKind::Activation { .. } | LayerKind::Norm { .. }
        )
    });
    match source.map(|r| &r.decl.kind) {
        Some(LayerKind::Affine {
            affine: Affine::Maxout { .. },
            output,
            ..
        }) => format!(
            " (a Maxout's output is the max over its pieces: {} features)",
            output.describe()
        ),
        _ if input.is_generic(&net.generics)
            || resolved
                .last()
                .is_some_and(|r| r.output.is_generic(&net.generics)) =>
        {
            " (a const generic parameter is only ever equal to itself)".into()
        }
        _ => String::new(),
    }
}

/// A number as an error message shows it: `1e-50` rather than fifty zeros.
fn number(value: f64) -> String {
    if value != 0.0 && !(1e-4..1e6).contains(&value.abs()) {
        format!("{value:e}")
    } else {
        value.to_string()
    }
}
