//! The grammar of a declaration.
//!
//! ```text
//! input  := net+
//! net    := attr* vis "struct" IDENT generics? "{" (layer ("," layer)* ","?)? "}"
//! layer  := (attr | init)* vis IDENT ":" kind
//! kind   := "Dense" "<" width "," width ">"
//!         | "Maxout" "<" width "," width ("," width)? ">"     the third width is K
//!         | ("Relu" | "Sigmoid" | "Tanh") written?
//!         | ("LeakyRelu" | "Elu") written? ("(" number ")")?
//!         | "Dropout" written? ("(" number ("," "seed" "=" INTEGER)? | "seed" "=" INTEGER ")")?
//!         | "BatchNorm" written? ("(" (bn_arg ("," bn_arg)* ","?)? ")")?
//!         | "LayerNorm" written? ("(" ("eps" "=" number ","?)? ")")?
//! written := "<" width ">"              a width-keeping layer's width, as a first layer's
//! bn_arg := ("momentum" | "eps") "=" number
//!         | type ("=>" width)?          a custom layer (the width is its output)
//! width  := INTEGER | IDENT | "{" expr "}"
//! init   := "#" "[" "init" "(" (scheme ("," bias)? | bias) ","? ")" "]"
//! scheme := IDENT ("(" INTEGER ")")?    he | calibrated | small_random | sparse | sparse(N)
//! bias   := "bias" "=" expr             a finite number: 0.01, -0.5, 1
//! ```
//!
//! Widths use this restricted grammar, not `syn::Expr`, so that a literal can be checked by
//! the macro and a name is passed to the type system untouched.
//!
//! An `#[init(...)]` attribute is taken out of the layer's attributes (the others are passed
//! through to the generated field) into [`LayerDecl::inits`](crate::ast::LayerDecl). Its
//! shape is parsed here; the check phase rules on its content: the scheme's name and
//! argument, the bias's value, that the layer is `Dense`, and that there is one attribute.

use syn::parse::{Parse, ParseStream};
use syn::{
    Attribute, Expr, Ident, LitFloat, LitInt, Meta, Token, Type, Visibility, braced, parenthesized,
};

use crate::ast::{
    Act, Affine, InitAttr, Input, LayerDecl, LayerKind, NetDecl, Norm, SchemeDecl, Width,
};

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut nets = Vec::new();
        while !input.is_empty() {
            nets.push(input.parse()?);
        }
        if nets.is_empty() {
            return Err(input
                .error("expected a network declaration: `struct Name { fc1: Dense<4, 8>, ... }`"));
        }
        Ok(Input { nets })
    }
}

impl Parse for NetDecl {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>()?;
        let ident: Ident = input.parse()?;
        let generics: syn::Generics = input.parse()?;
        if input.peek(Token![where]) {
            return Err(input.error("a network declaration takes no `where` clause"));
        }
        let content;
        braced!(content in input);
        let mut layers = Vec::new();
        while !content.is_empty() {
            let layer: LayerDecl = content.parse()?;
            if !content.is_empty() && !content.peek(Token![,]) {
                return Err(syn::Error::new(
                    layer.name.span(),
                    format!(
                        "expected `,` after the layer `{}`: layers are separated by commas",
                        layer.name
                    ),
                ));
            }
            content.parse::<Option<Token![,]>>()?;
            layers.push(layer);
        }
        Ok(NetDecl {
            attrs,
            vis,
            ident,
            generics,
            layers,
        })
    }
}

impl Parse for LayerDecl {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut attrs = Vec::new();
        let mut inits = Vec::new();
        for attr in input.call(Attribute::parse_outer)? {
            if attr.path().is_ident("init") {
                inits.push(parse_init(&attr)?);
            } else {
                attrs.push(attr);
            }
        }
        let vis: Visibility = input.parse()?;
        let name: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        let kind = input.parse()?;
        Ok(LayerDecl {
            attrs,
            inits,
            vis,
            name,
            kind,
        })
    }
}

impl Parse for LayerKind {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(Ident) && !input.peek2(Token![::]) {
            let keyword: Ident = input.fork().parse()?;
            if keyword == "Dense" || keyword == "Maxout" {
                input.parse::<Ident>()?;
                input.parse::<Token![<]>()?;
                let layer_input = input.parse()?;
                input.parse::<Token![,]>()?;
                let output = input.parse()?;
                let affine = if keyword == "Dense" {
                    Affine::Dense
                } else {
                    let pieces = match input.parse::<Option<Token![,]>>()? {
                        Some(_) if !input.peek(Token![>]) => Some(input.parse()?),
                        _ => None,
                    };
                    Affine::Maxout { pieces }
                };
                input.parse::<Token![>]>()?;
                return Ok(LayerKind::Affine {
                    affine,
                    input: layer_input,
                    output,
                });
            }
            if keyword == "BatchNorm" || keyword == "LayerNorm" {
                input.parse::<Ident>()?;
                let width = parse_written_width(input)?;
                return parse_norm(keyword, width, input);
            }
            if let Some(&(_, act)) = Act::ALL.iter().find(|(name, _)| keyword == name) {
                input.parse::<Ident>()?;
                let width = parse_written_width(input)?;
                let (mut arg, mut seed) = (None, None);
                if act.takes_argument() && input.peek(syn::token::Paren) {
                    let content;
                    parenthesized!(content in input);
                    if act == Act::Dropout {
                        (arg, seed) = parse_dropout_arguments(&content)?;
                    } else {
                        arg = Some(parse_number(&content)?);
                    }
                }
                return Ok(LayerKind::Activation {
                    act,
                    keyword,
                    width,
                    arg,
                    seed,
                });
            }
        }
        let ty: Type = input.parse()?;
        let output = if input.peek(Token![=>]) {
            input.parse::<Token![=>]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(LayerKind::Custom { ty, output })
    }
}

impl Parse for Width {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitInt) {
            let lit: LitInt = input.parse()?;
            if !matches!(lit.suffix(), "" | "usize") {
                return Err(syn::Error::new(lit.span(), "a width is a `usize`"));
            }
            let value = lit.base10_parse::<usize>()?;
            Ok(Width::Lit { value, lit })
        } else if input.peek(Ident) {
            Ok(Width::Name(input.parse()?))
        } else if input.peek(syn::token::Brace) {
            let content;
            let brace = braced!(content in input);
            Ok(Width::Expr {
                expr: Box::new(content.parse()?),
                span: brace.span.join(),
            })
        } else {
            Err(input.error(
                "expected a width: an integer literal, a const name, or a `{ constant expression }`",
            ))
        }
    }
}

/// The optional `(momentum = NUMBER, eps = NUMBER)` after `BatchNorm`, or `(eps = NUMBER)`
/// after `LayerNorm`; ranges are checked by the check phase.
fn parse_norm(
    keyword: Ident,
    width: Option<Width>,
    input: ParseStream<'_>,
) -> syn::Result<LayerKind> {
    let norm = if keyword == "BatchNorm" {
        Norm::Batch
    } else {
        Norm::Layer
    };
    let form = match norm {
        Norm::Batch => {
            "expected `BatchNorm`, or `BatchNorm(momentum = NUMBER, eps = NUMBER)` with either \
             argument optional"
        }
        Norm::Layer => {
            "expected `LayerNorm`, or `LayerNorm(eps = NUMBER)` (layer norm keeps no running \
             statistics, so it has no momentum)"
        }
    };
    let (mut momentum, mut eps) = (None, None);
    if input.peek(syn::token::Paren) {
        let content;
        parenthesized!(content in input);
        while !content.is_empty() {
            let key: Ident = content
                .parse()
                .map_err(|e| syn::Error::new(e.span(), form))?;
            let slot = if key == "momentum" && norm == Norm::Batch {
                &mut momentum
            } else if key == "eps" {
                &mut eps
            } else {
                return Err(syn::Error::new(key.span(), form));
            };
            if slot.is_some() {
                return Err(syn::Error::new(
                    key.span(),
                    format!("`{key}` is given twice"),
                ));
            }
            content.parse::<Token![=]>()?;
            *slot = Some(number_literal(&content)?);
            if !content.is_empty() {
                content.parse::<Token![,]>()?;
            }
        }
    }
    Ok(LayerKind::Norm {
        norm,
        keyword,
        width,
        momentum,
        eps,
    })
}

/// A possibly negative integer or float literal, as an `f64`.
fn number_literal(input: ParseStream<'_>) -> syn::Result<(f64, proc_macro2::Span)> {
    let negative = input.parse::<Option<Token![-]>>()?.is_some();
    let (value, span) = if input.peek(LitFloat) {
        let lit: LitFloat = input.parse()?;
        (lit.base10_parse::<f64>()?, lit.span())
    } else {
        let lit: LitInt = input.parse()?;
        (lit.base10_parse::<f64>()?, lit.span())
    };
    Ok((if negative { -value } else { value }, span))
}

/// A number literal that is all of `input`.
/// The optional `<WIDTH>` after a width-keeping layer's keyword: `Relu<16>`.
fn parse_written_width(input: ParseStream<'_>) -> syn::Result<Option<Width>> {
    if !input.peek(Token![<]) {
        return Ok(None);
    }
    input.parse::<Token![<]>()?;
    let width = input.parse()?;
    input.parse::<Token![>]>()?;
    Ok(Some(width))
}

/// Dropout's `(p)`, `(p, seed = N)` or `(seed = N)`.
type DropoutArguments = (Option<(f64, proc_macro2::Span)>, Option<u64>);

fn parse_dropout_arguments(input: ParseStream<'_>) -> syn::Result<DropoutArguments> {
    const FORM: &str = "expected `Dropout(P)`, `Dropout(P, seed = N)` or `Dropout(seed = N)`, \
                        with P the probability of keeping a unit and N a whole number";
    let p = if input.peek(Ident) {
        None
    } else {
        Some(number_literal(input).map_err(|e| syn::Error::new(e.span(), FORM))?)
    };
    if p.is_some() && !input.is_empty() {
        input.parse::<Token![,]>()?;
    }
    let mut seed = None;
    if !input.is_empty() {
        let key: Ident = input.parse().map_err(|e| syn::Error::new(e.span(), FORM))?;
        if key != "seed" {
            return Err(syn::Error::new(key.span(), FORM));
        }
        input.parse::<Token![=]>()?;
        let value: LitInt = input.parse().map_err(|e| syn::Error::new(e.span(), FORM))?;
        seed = Some(value.base10_parse::<u64>()?);
        input.parse::<Option<Token![,]>>()?;
    }
    if !input.is_empty() {
        return Err(input.error(FORM));
    }
    Ok((p, seed))
}

fn parse_number(input: ParseStream<'_>) -> syn::Result<(f64, proc_macro2::Span)> {
    let number = number_literal(input)?;
    if !input.is_empty() {
        return Err(input.error("expected a single number"));
    }
    Ok(number)
}

const INIT_FORM: &str = "expected `#[init(scheme)]`, `#[init(scheme, bias = NUMBER)]` or \
                         `#[init(bias = NUMBER)]`, with scheme one of he, calibrated, \
                         small_random, sparse, sparse(N)";

/// `#[init(scheme, bias = NUMBER)]`: `scheme` and `bias` each optional, not both.
fn parse_init(attr: &Attribute) -> syn::Result<InitAttr> {
    let path = attr.path().require_ident()?.clone();
    let Meta::List(list) = &attr.meta else {
        return Err(syn::Error::new_spanned(&attr.meta, INIT_FORM));
    };
    list.parse_args_with(|input: ParseStream<'_>| {
        if input.is_empty() {
            return Err(input.error(INIT_FORM));
        }
        let is_bias = input.fork().parse::<Ident>().is_ok_and(|key| key == "bias");
        let scheme = if input.peek(Ident) && !is_bias {
            let name: Ident = input.parse()?;
            let arg = if input.peek(syn::token::Paren) {
                let content;
                parenthesized!(content in input);
                let lit: LitInt = content.parse().map_err(|e| {
                    syn::Error::new(e.span(), "expected an integer: the number of connections")
                })?;
                if !matches!(lit.suffix(), "" | "usize") {
                    return Err(syn::Error::new(lit.span(), "the argument is a `usize`"));
                }
                if !content.is_empty() {
                    return Err(content.error("expected a single integer"));
                }
                Some((lit.base10_parse::<usize>()?, lit))
            } else {
                None
            };
            Some(SchemeDecl { name, arg })
        } else {
            None
        };
        if scheme.is_some() && !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
        let bias = if input.is_empty() {
            None
        } else {
            let key: Ident = input
                .parse()
                .map_err(|e| syn::Error::new(e.span(), INIT_FORM))?;
            if key != "bias" {
                return Err(syn::Error::new(key.span(), INIT_FORM));
            }
            input
                .parse::<Token![=]>()
                .map_err(|_| syn::Error::new(key.span(), "expected `bias = NUMBER`"))?;
            let value: Expr = input.parse()?;
            input.parse::<Option<Token![,]>>()?;
            Some(value)
        };
        if !input.is_empty() {
            return Err(input.error(INIT_FORM));
        }
        Ok(InitAttr { path, scheme, bias })
    })
}
