//! The declaration's syntax tree: plain types that keep the spans of the user's tokens.

use proc_macro2::Span;
use syn::{
    Attribute, Expr, ExprLit, ExprUnary, Generics, Ident, Lit, LitInt, Type, UnOp, Visibility,
};

/// Everything inside one `network! { ... }`: one or more network declarations.
pub struct Input {
    pub nets: Vec<NetDecl>,
}

/// `#[attrs] vis struct Name<const H: usize> { layers }`.
pub struct NetDecl {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    pub generics: Generics,
    pub layers: Vec<LayerDecl>,
}

/// `#[attrs] vis name: kind`.
pub struct LayerDecl {
    /// The attributes passed through to the generated field (docs, lints, ...).
    pub attrs: Vec<Attribute>,
    /// Every `#[init(...)]` attribute, in order; more than one is an error of the check phase.
    pub inits: Vec<InitAttr>,
    pub vis: Visibility,
    pub name: Ident,
    pub kind: LayerKind,
}

/// `#[init(scheme, bias = NUMBER)]`, either part optional (not both).
pub struct InitAttr {
    /// The `init` of the attribute, where errors about the attribute as a whole point.
    pub path: Ident,
    pub scheme: Option<SchemeDecl>,
    /// The expression after `bias =`, as written: the check phase requires a finite number.
    pub bias: Option<Expr>,
}

impl InitAttr {
    /// The bias as a number, when it is a (possibly negated) numeric literal.
    pub fn bias_value(&self) -> Option<f64> {
        self.bias.as_ref().and_then(number)
    }
}

/// A scheme as written: `he`, `sparse`, `sparse(20)`. The name is checked by the check phase.
pub struct SchemeDecl {
    pub name: Ident,
    /// The parenthesized argument, `(value, literal)`.
    pub arg: Option<(usize, LitInt)>,
}

impl SchemeDecl {
    /// The scheme, when the name is one of [`Scheme::ALL`].
    pub fn scheme(&self) -> Option<Scheme> {
        Scheme::ALL
            .iter()
            .find(|(name, _)| self.name == name)
            .map(|&(_, scheme)| scheme)
    }
}

/// The initialization schemes of `constnet::Init`, by their attribute names.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    He,
    Calibrated,
    SmallRandom,
    Sparse,
}

impl Scheme {
    pub const ALL: [(&'static str, Scheme); 4] = [
        ("he", Scheme::He),
        ("calibrated", Scheme::Calibrated),
        ("small_random", Scheme::SmallRandom),
        ("sparse", Scheme::Sparse),
    ];

    /// Whether the scheme takes a parenthesized argument (sparse's connection count).
    pub fn takes_argument(self) -> bool {
        self == Scheme::Sparse
    }
}

/// The value of a numeric literal, or of `-` followed by one.
fn number(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Float(lit),
            ..
        }) => lit.base10_parse().ok(),
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit.base10_parse().ok(),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) if matches!(**expr, Expr::Lit(_)) => number(expr).map(|v| -v),
        _ => None,
    }
}

/// What a layer is.
pub enum LayerKind {
    /// `Dense<IN, OUT>` or `Maxout<IN, OUT, K>`: the layers with a weight matrix, which set
    /// their own widths and take `#[init]`.
    Affine {
        affine: Affine,
        input: Width,
        output: Width,
    },
    /// `BatchNorm` or `BatchNorm(momentum = 0.9, eps = 1e-5)`, either argument optional;
    /// `LayerNorm` or `LayerNorm(eps = 1e-5)`.
    Norm {
        norm: Norm,
        keyword: Ident,
        /// The width written after the keyword, `LayerNorm<64>`, if any.
        width: Option<Width>,
        momentum: Option<(f64, Span)>,
        eps: Option<(f64, Span)>,
    },
    /// A built-in activation, with its optional numeric argument: `LeakyRelu(0.1)`; a
    /// dropout layer may also name its masks' seed: `Dropout(0.5, seed = 123)`.
    Activation {
        act: Act,
        keyword: Ident,
        /// The width written after the keyword, `Relu<16>`, if any: what lets a network start
        /// with the layer.
        width: Option<Width>,
        arg: Option<(f64, Span)>,
        seed: Option<u64>,
    },
    /// A user type implementing `constnet::Layer`, with its output width: `Gate => 10`.
    /// Without a width it is an unknown layer kind, reported by the check phase.
    Custom { ty: Type, output: Option<Width> },
}

impl LayerKind {
    /// The width a width-keeping layer has written after its keyword (`Relu<16>`).
    pub fn written_width(&self) -> Option<&Width> {
        match self {
            LayerKind::Activation { width, .. } | LayerKind::Norm { width, .. } => width.as_ref(),
            _ => None,
        }
    }
}

/// Which normalization layer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    /// Per feature over the batch, with running statistics.
    Batch,
    /// Per sample over its features.
    Layer,
}

impl Norm {
    /// How the layer is named in messages: `batch norm`, `layer norm`.
    pub fn describe(self) -> &'static str {
        match self {
            Norm::Batch => "batch norm",
            Norm::Layer => "layer norm",
        }
    }
}

/// Which layer with a weight matrix.
pub enum Affine {
    /// `Dense<IN, OUT>`.
    Dense,
    /// `Maxout<IN, OUT, K>`, with `K` pieces (2 when left out).
    Maxout { pieces: Option<Width> },
}

/// The built-in activations.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Relu,
    LeakyRelu,
    Sigmoid,
    Tanh,
    Elu,
    /// Inverted dropout (not an activation, but written like one: `Dropout(0.8)`).
    Dropout,
}

impl Act {
    pub const ALL: [(&'static str, Act); 6] = [
        ("Relu", Act::Relu),
        ("LeakyRelu", Act::LeakyRelu),
        ("Sigmoid", Act::Sigmoid),
        ("Tanh", Act::Tanh),
        ("Elu", Act::Elu),
        ("Dropout", Act::Dropout),
    ];

    /// Whether `Dense` layers feeding this activation use He initialization.
    pub fn is_relu_family(self) -> bool {
        matches!(self, Act::Relu | Act::LeakyRelu | Act::Elu)
    }

    /// Whether the layer takes a numeric argument (slope, alpha or keep probability).
    pub fn takes_argument(self) -> bool {
        matches!(self, Act::LeakyRelu | Act::Elu | Act::Dropout)
    }
}

/// A layer width, in the restricted grammar the macro understands.
#[derive(Clone)]
pub enum Width {
    /// An integer literal, which the macro checks itself.
    Lit { value: usize, lit: LitInt },
    /// A `const` item (compared by a constant evaluation) or a const generic parameter (equal
    /// only to itself, which the macro checks).
    Name(Ident),
    /// `{ expr }`, a constant expression, compared by a constant evaluation.
    Expr { expr: Box<Expr>, span: Span },
}

impl Width {
    pub fn span(&self) -> Span {
        match self {
            Width::Lit { lit, .. } => lit.span(),
            Width::Name(ident) => ident.span(),
            Width::Expr { span, .. } => *span,
        }
    }

    /// Whether the macro can tell that two widths are equal (`Some(true)`), different
    /// (`Some(false)`), or must leave it to a constant evaluation (`None`). A const generic
    /// parameter of the network (one of `generics`) equals only itself: the compiler never
    /// unifies it with another parameter or a value.
    pub fn same_as(&self, other: &Width, generics: &Generics) -> Option<bool> {
        match (self, other) {
            (Width::Lit { value: a, .. }, Width::Lit { value: b, .. }) => Some(a == b),
            (Width::Name(a), Width::Name(b)) if a == b => Some(true),
            _ if self.is_generic(generics) || other.is_generic(generics) => Some(false),
            _ => None,
        }
    }

    /// Whether the width is the literal 0.
    pub fn is_zero(&self) -> bool {
        matches!(self, Width::Lit { value: 0, .. })
    }

    /// Whether the width is one of the network's const generic parameters.
    pub fn is_generic(&self, generics: &Generics) -> bool {
        match self {
            Width::Name(ident) => generics.params.iter().any(|p| match p {
                syn::GenericParam::Const(c) => c.ident == *ident,
                _ => false,
            }),
            _ => false,
        }
    }

    /// How the width reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Width::Lit { value, .. } => value.to_string(),
            Width::Name(ident) => format!("`{ident}`"),
            Width::Expr { expr, .. } => format!("`{{ {} }}`", quote::quote!(#expr)),
        }
    }
}
