//! The `network!` procedural macro of [constnet](https://docs.rs/constnet).
//!
//! Use it through `constnet::network`, whose documentation describes the syntax. This crate
//! runs in three phases over an owned syntax tree that keeps every span:
//!
//! - `parse`: the declaration's grammar (syn), into the types of `ast`;
//! - `check`: the shape algebra and every other rule, each error attached to the user's
//!   token and all of them reported together;
//! - `expand`: the generated struct, tape, trait impls and width checks (quote).

mod ast;
mod check;
mod expand;
mod parse;

use proc_macro::TokenStream;

/// Declares fully-connected networks whose widths are checked at compile time. See
/// `constnet::network` for the syntax and what is generated.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as ast::Input);
    expand::network(input).into()
}
