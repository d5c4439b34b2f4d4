//! The `constnet::Network` impl: one function per method it defines, each emitting the
//! method's signature and, for a checked declaration, its body (see [`body`]).

use proc_macro2::TokenStream;
use quote::quote;

use super::{Body, Buffer, Link, Surface, body, respan, respan_outside, stub_lints};
use crate::ast::{Act, Affine, LayerKind};
use crate::check::Resolved;

pub(super) fn emit_network_impl(s: &Surface<'_>, b: Option<&Body<'_>>) -> TokenStream {
    let (params, self_ty, tape_ty) = (&s.generics.params, s.self_ty(), s.tape_ty());
    let (input, output) = (&s.input.arg, &s.output.arg);
    let items = [
        emit_buffers(b),
        emit_tensor_walks(b),
        emit_layers(b),
        emit_forward_sample(s, b),
        emit_activations(s, b),
        emit_new_tape(s, b),
        emit_forward_view(s, b),
        emit_forward_view_train(s, b),
        emit_backward_into(b),
        emit_backward_sgd(b),
        emit_record_kinks(b),
    ];
    let lints = stub_lints(b);
    // The header at the network's name, as the user wrote it: a note that this impl exists
    // (when another one was asked for) then shows that line, not the whole declaration, and
    // rustc does not add that the error comes from a macro. The items keep the macro's
    // hygiene, so lints still see generated code.
    let at_name = s.net.ident.span();
    let header = respan(
        quote!(impl<#params> ::constnet::Network<T, #input, #output> for #self_ty),
        at_name,
    );
    let item = respan_outside(
        quote! {
            #header {
                type Tape = #tape_ty;
                const PARAM_COUNT: usize = Self::PARAM_COUNT;
                const STATE_COUNT: usize = Self::STATE_COUNT;
                #(#items)*
            }
        },
        at_name,
    );
    quote! {
        #lints
        #item
    }
}

/// `init` and the accessors of the two flat buffers, which a declaration with errors has too.
fn emit_buffers(_: Option<&Body<'_>>) -> TokenStream {
    quote! {
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
    }
}

/// `for_each_tensor` and `for_each_state_tensor`: every layer's tensors, by offset. The
/// generated code is a table of the layers' names, specs and sizes; the walk over it is one
/// function in constnet, compiled once rather than in every program for every network.
fn emit_tensor_walks(b: Option<&Body<'_>>) -> TokenStream {
    let walk = |specs: TokenStream, count: TokenStream| {
        body(b, |b| {
            let layers = b.as_layers.iter().enumerate().map(|(i, as_layer)| {
                let name = b.names[i].to_string();
                quote!((#name, #as_layer::#specs, #as_layer::#count))
            });
            quote!(::constnet::__private::walk_tensors(&[#(#layers),*], f))
        })
    };
    let (tensors, states) = (
        walk(quote!(TENSORS), quote!(PARAMS)),
        walk(quote!(STATE_TENSORS), quote!(STATE)),
    );
    quote! {
        fn for_each_tensor(&self, f: &mut dyn FnMut(::constnet::TensorRef)) {
            #tensors
        }

        fn for_each_state_tensor(&self, f: &mut dyn FnMut(::constnet::TensorRef)) {
            #states
        }
    }
}

fn emit_layers(b: Option<&Body<'_>>) -> TokenStream {
    let body = body(b, |b| {
        let infos = b.layers().iter().enumerate().map(|(i, layer)| {
            let (as_layer, name) = (&b.as_layers[i], b.names[i]);
            let (name_str, inputs, outputs) =
                (name.to_string(), layer.input.expr(), layer.output.expr());
            quote! {
                ::constnet::LayerInfo {
                    name: #name_str,
                    kind: #as_layer::kind(&self.#name),
                    inputs: #inputs,
                    outputs: #outputs,
                    params: #as_layer::PARAMS,
                }
            }
        });
        quote!(::std::vec![#(#infos),*])
    });
    quote! {
        fn layers(&self) -> ::std::vec::Vec<::constnet::LayerInfo> {
            #body
        }
    }
}

/// `forward_sample`, what `OnSample::forward` runs: the single-sample pass
/// ([`emit_forward_tiers`]) in its copy for the CPU's instruction set.
fn emit_forward_sample(s: &Surface<'_>, b: Option<&Body<'_>>) -> TokenStream {
    let (input, output) = (&s.input.arg, &s.output.arg);
    let body = body(b, |_| {
        quote! {
            ::constnet::__private::run_tiered(
                self,
                x,
                Self::__constnet_forward_baseline,
                Self::__constnet_forward_avx2,
                Self::__constnet_forward_avx512,
            )
        }
    });
    quote! {
        #[inline]
        fn forward_sample(&self, x: &::constnet::Sample<T, #input>) -> ::constnet::Sample<T, #output> {
            #body
        }
    }
}

/// The single-sample forward pass, `h_<layer> = layer(h_<previous>)` with a fused `Dense`
/// and `Relu` in one call, and its copies compiled with AVX2 and FMA and with AVX-512, into
/// which it inlines (see `constnet::__private::run_tiered`): an inherent impl, which only a
/// checked declaration has (its `forward` is the one caller). Each copy hands its
/// instruction set (the baseline copy, the build's) to its `Dense` layers as the constant
/// `ISA`, so that each compiles only the kernels it runs; the first layer, whose input is
/// the caller's sample, runs `Dense::forward_input_with`, which reads it in the way the
/// caller's stores of a freshly written sample can be forwarded to.
pub(super) fn emit_forward_tiers(s: &Surface<'_>, b: &Body<'_>) -> TokenStream {
    let (params, self_ty) = (&s.generics.params, s.self_ty());
    let (input, output) = (&s.input.arg, &s.output.arg);
    let split_p = b.split("p", quote!(&self.params[..]), Buffer::Params, false);
    let split_s = b.split("s", quote!(&self.state[..]), Buffer::State, false);
    let steps = b.layers().iter().enumerate().map(|(i, layer)| {
        // The first layer reads the caller's sample, the others the previous layer's output.
        let forward = if i == 0 {
            quote!(forward_input_with)
        } else {
            quote!(forward_one_with)
        };
        if b.fusion.forward[i] {
            let (ty, name, p) = (layer.ty(), b.names[i], &b.p_names[i]);
            let (input, relu_h) = (one_sample_input(b, i), &b.hs[i + 1]);
            quote!(let #relu_h = <#ty>::#forward::<T, true, ISA>(&self.#name, #p, #input);)
        } else if b.fusion.forward_done_before(i) {
            quote!()
        } else if let LayerKind::Affine {
            affine: Affine::Dense,
            ..
        } = &layer.decl.kind
        {
            let (ty, name, p, h) = (layer.ty(), b.names[i], &b.p_names[i], &b.hs[i]);
            let input = one_sample_input(b, i);
            quote!(let #h = <#ty>::#forward::<T, false, ISA>(&self.#name, #p, #input);)
        } else {
            forward_one_step(b, i)
        }
    });
    let h_last = &b.hs[b.hs.len() - 1];
    let sample = |width| quote!(::constnet::Sample<T, #width>);
    let (x_ty, y_ty) = (sample(input), sample(output));
    quote! {
        impl<#params> #self_ty {
            #[inline(always)]
            fn __constnet_forward<const ISA: u8>(&self, x: &#x_ty) -> #y_ty {
                #split_p
                #split_s
                #(#steps)*
                #h_last
            }

            fn __constnet_forward_baseline(&self, x: &#x_ty) -> #y_ty {
                self.__constnet_forward::<{ ::constnet::__private::COMPILED_TIER }>(x)
            }

            #[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
            fn __constnet_forward_avx2(&self, x: &#x_ty) -> #y_ty {
                self.__constnet_forward::<{ ::constnet::__private::AVX2 }>(x)
            }

            #[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx512f,avx512vl"))]
            fn __constnet_forward_avx512(&self, x: &#x_ty) -> #y_ty {
                self.__constnet_forward::<{ ::constnet::__private::AVX512 }>(x)
            }
        }
    }
}

/// The input of layer `i` in a single-sample pass: the sample, or the previous layer's
/// output (through the width link a deferred check needs).
fn one_sample_input(b: &Body<'_>, i: usize) -> TokenStream {
    if i == 0 {
        quote!(x)
    } else {
        let previous = &b.hs[i - 1];
        b.layers()[i].linked(quote!(&#previous), Link::One)
    }
}

/// `let h_<layer> = <Ty as Layer<..>>::forward_one(..);`: layer `i` on one sample, unfused.
fn forward_one_step(b: &Body<'_>, i: usize) -> TokenStream {
    let (as_layer, name, p, st, h) = (
        &b.as_layers[i],
        b.names[i],
        &b.p_names[i],
        &b.s_names[i],
        &b.hs[i],
    );
    let input = one_sample_input(b, i);
    quote!(let #h = #as_layer::forward_one(&self.#name, #p, #st, #input);)
}

/// `activations_of`, what `OnSample::for_each_activation` runs: the single-sample forward
/// without fusion, each layer's output handed to `f` with the layer's name. It is for
/// diagnostics, where the time a program takes to build matters more than this pass's
/// speed: `Dense` and activation layers go through functions compiled once per kind and
/// scalar type, not through their own single-sample kernels, which were a tenth of a 10-layer
/// network's code. Each output is on the stack: the pass allocates nothing.
fn emit_activations(s: &Surface<'_>, b: Option<&Body<'_>>) -> TokenStream {
    let input = &s.input.arg;
    let body = body(b, |b| {
        let split_p = b.split("p", quote!(&self.params[..]), Buffer::Params, false);
        let split_s = b.split("s", quote!(&self.state[..]), Buffer::State, false);
        let steps = (0..b.layers().len()).map(|i| {
            let layer = &b.layers()[i];
            let (name, h, p) = (b.names[i], &b.hs[i], &b.p_names[i]);
            let (input, width) = (one_sample_input(b, i), layer.output.arg());
            let step = match &layer.decl.kind {
                LayerKind::Affine {
                    affine: Affine::Dense,
                    ..
                } => quote! {
                    let mut #h = ::constnet::Sample::<T, #width>::zeros();
                    ::constnet::__private::affine_any_width(
                        #p,
                        (#input).as_slice(),
                        #h.as_mut_slice(),
                    );
                },
                LayerKind::Activation { act, .. } if *act != Act::Dropout => quote! {
                    let mut #h = ::constnet::Sample::<T, #width>::zeros();
                    ::constnet::layers::activate_any_width(
                        &self.#name,
                        (#input).as_slice(),
                        #h.as_mut_slice(),
                    );
                },
                _ => forward_one_step(b, i),
            };
            let name_str = name.to_string();
            quote! {
                #step
                f(#name_str, #h.as_slice());
            }
        });
        quote! {
            #split_p
            #split_s
            #(#steps)*
        }
    });
    quote! {
        fn activations_of(
            &self,
            x: &::constnet::Sample<T, #input>,
            f: &mut dyn FnMut(&'static str, &[T]),
        ) {
            #body
        }
    }
}

fn emit_new_tape(s: &Surface<'_>, b: Option<&Body<'_>>) -> TokenStream {
    let body = body(b, |b| {
        let (outs, grads, caches) = (&b.outs, &b.grads, &b.caches);
        let new_caches = (0..caches.len()).map(|i| b.new_cache(i));
        let scratches = b
            .as_layers
            .iter()
            .map(|as_layer| quote!(most = ::core::cmp::Ord::max(most, #as_layer::SGD_SCRATCH);));
        let masks = b.layers().iter().enumerate().filter_map(|(i, layer)| {
            let (mask, width) = (&b.masks[i], layer.output.expr());
            b.fusion
                .forward_done_before(i)
                .then(|| quote!(#mask: ::constnet::layers::ReluMask::new(#width, max_batch),))
        });
        let tape = &s.tape;
        quote! {
            #tape {
                batch: 0,
                max_batch,
                input: ::constnet::batch::zeros(max_batch),
                input_grad: ::constnet::batch::zeros(max_batch),
                sgd_scratch: ::std::vec![T::ZERO; {
                    let mut most = 0;
                    #(#scratches)*
                    most
                }],
                #(
                    #outs: ::constnet::batch::zeros(max_batch),
                    #grads: ::constnet::batch::zeros(max_batch),
                    #caches: #new_caches,
                )*
                #(#masks)*
            }
        }
    });
    quote! {
        fn new_tape(&self, max_batch: usize) -> Self::Tape {
            #body
        }
    }
}

/// The start of a batched pass: the batch's size against the tape's.
fn check_batch() -> TokenStream {
    quote! {
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
    }
}

/// The start of a backward pass: the size of the batch the tape holds, which a forward pass
/// in training mode must have set.
fn tape_batch() -> TokenStream {
    quote! {
        let batch = tape.batch;
        if batch == 0 {
            return ::core::result::Result::Err(::constnet::Error::EmptyBatch);
        }
    }
}

/// The batched forward steps, in evaluation (`x` read in place) or training mode.
fn forward_steps(b: &Body<'_>, train: bool) -> TokenStream {
    let steps = b.layers().iter().enumerate().map(|(i, layer)| {
        let (as_layer, name, p, st) = (&b.as_layers[i], b.names[i], &b.p_names[i], &b.s_names[i]);
        let (out, cache) = (&b.outs[i], b.cache_mut(i, quote!(tape)));
        let input = if i == 0 && !train {
            quote!(x)
        } else {
            b.inputs[i].clone()
        };
        if b.fusion.forward[i] {
            let (ty, relu_out, mask) = (layer.ty(), &b.outs[i + 1], &b.masks[i + 1]);
            quote! {
                <#ty>::forward_relu(
                    &self.#name, #p, #input, tape.#relu_out.columns_mut(0, batch),
                    ::core::option::Option::Some(&mut tape.#mask),
                );
            }
        } else if b.fusion.forward_done_before(i) {
            quote!()
        } else if train {
            quote! {
                #as_layer::forward_train(
                    &self.#name, #p, #st, #input, tape.#out.columns_mut(0, batch), #cache,
                );
            }
        } else {
            quote!(#as_layer::forward(&self.#name, #p, #st, #input, tape.#out.columns_mut(0, batch));)
        }
    });
    quote!(#(#steps)*)
}

fn emit_forward_view(s: &Surface<'_>, b: Option<&Body<'_>>) -> TokenStream {
    let (input, output) = (&s.input.arg, &s.output.arg);
    let body = body(b, |b| {
        let (check, steps) = (check_batch(), forward_steps(b, false));
        let split_p = b.split("p", quote!(&self.params[..]), Buffer::Params, false);
        let split_s = b.split("s", quote!(&self.state[..]), Buffer::State, false);
        let out_last = &b.outs[b.outs.len() - 1];
        quote! {
            #check
            #split_p
            #split_s
            #steps
            ::core::result::Result::Ok(tape.#out_last.columns(0, batch))
        }
    });
    quote! {
        fn forward_view<'t>(
            &self,
            x: ::constnet::BatchView<'_, T, #input>,
            tape: &'t mut Self::Tape,
        ) -> ::core::result::Result<::constnet::BatchView<'t, T, #output>, ::constnet::Error> {
            #body
        }
    }
}

fn emit_forward_view_train(s: &Surface<'_>, b: Option<&Body<'_>>) -> TokenStream {
    let (input, output) = (&s.input.arg, &s.output.arg);
    let body = body(b, |b| {
        let (check, steps) = (check_batch(), forward_steps(b, true));
        let split_p = b.split("p", quote!(&self.params[..]), Buffer::Params, false);
        let split_s = b.split("s", quote!(&mut self.state[..]), Buffer::State, true);
        let out_last = &b.outs[b.outs.len() - 1];
        // Training keeps a copy of the input for backward; evaluation reads it in place.
        quote! {
            #check
            tape.input.columns_mut(0, batch).copy_from(&x);
            #split_p
            #split_s
            #steps
            ::core::result::Result::Ok(tape.#out_last.columns(0, batch))
        }
    });
    quote! {
        fn forward_view_train<'t>(
            &mut self,
            x: ::constnet::BatchView<'_, T, #input>,
            tape: &'t mut Self::Tape,
        ) -> ::core::result::Result<::constnet::BatchView<'t, T, #output>, ::constnet::Error> {
            #body
        }
    }
}

impl Body<'_> {
    /// Where layer `i > 0` writes its input gradient: the output gradient of the layer before
    /// it, or of the one before that when a fused ReLU sits between them (the first layer is
    /// never a ReLU, so a fused one has a layer before it).
    fn dx_view(&self, i: usize) -> TokenStream {
        let previous = &self.grads[if self.fusion.backward[i] {
            i - 2
        } else {
            i - 1
        }];
        let view =
            self.layers()[i].linked(quote!(tape.#previous.columns_mut(0, batch)), Link::BatchMut);
        quote!(::core::option::Option::Some(#view))
    }

    /// The mask of the ReLU before layer `i`, where that ReLU's forward was fused too.
    fn relu_mask(&self, i: usize) -> TokenStream {
        if self.fusion.forward_done_before(i - 1) {
            let mask = &self.masks[i - 1];
            quote!(::core::option::Option::Some(&tape.#mask))
        } else {
            quote!(::core::option::Option::None)
        }
    }

    /// Layer `i`'s step, where a network that starts `Dense`, `Relu`, `Dense` first tries
    /// (`attempt`, a `bool` expression) the third layer's kernel that also does the first
    /// layer's part: the third and first layers' own steps then run only if it declined.
    fn with_first_pair(
        &self,
        i: usize,
        step: TokenStream,
        attempt: impl FnOnce() -> TokenStream,
    ) -> TokenStream {
        match i {
            2 if self.fusion.first_pair() => {
                let attempt = attempt();
                quote! {
                    let first_done = #attempt;
                    if !first_done {
                        #step
                    }
                }
            }
            0 if self.fusion.first_pair() => quote!(if !first_done { #step }),
            _ => step,
        }
    }

    /// Layer `i`'s part of `backward_into`.
    fn backward_step(&self, i: usize, layer: &Resolved<'_>) -> TokenStream {
        let (as_layer, name, p, gr) = (
            &self.as_layers[i],
            self.names[i],
            &self.p_names[i],
            &self.g_names[i],
        );
        let (x, out, grad, cache) = (
            &self.inputs[i],
            &self.outs[i],
            &self.grads[i],
            self.cache_mut(i, quote!(tape)),
        );
        if self.fusion.backward_done_after(i) {
            return quote!();
        }
        let dx = if i == 0 {
            quote! {
                if input_grad { ::core::option::Option::Some(tape.input_grad.columns_mut(0, batch)) }
                else { ::core::option::Option::None }
            }
        } else {
            self.dx_view(i)
        };
        if self.fusion.backward[i] {
            let (ty, mask) = (layer.ty(), self.relu_mask(i));
            return quote! {
                <#ty>::backward_through_relu(
                    &self.#name, #p, #x, tape.#grad.columns(0, batch), #dx, #gr, !overwrite, #mask,
                );
            };
        }
        let args = quote! {
            &self.#name, #p, #x, tape.#out.columns(0, batch), #cache,
            tape.#grad.columns(0, batch), #dx, #gr,
        };
        quote! {
            if overwrite {
                #as_layer::backward_overwrite(#args);
            } else {
                #as_layer::backward(#args);
            }
        }
    }

    /// Layer `i`'s part of `backward_sgd`: its backward with an SGD step.
    fn sgd_step(&self, i: usize, layer: &Resolved<'_>) -> TokenStream {
        let (as_layer, name, p) = (&self.as_layers[i], self.names[i], &self.p_names[i]);
        let (x, out, grad, cache) = (
            &self.inputs[i],
            &self.outs[i],
            &self.grads[i],
            self.cache_mut(i, quote!(tape)),
        );
        if self.fusion.backward_done_after(i) {
            return quote!();
        }
        let dx = if i == 0 {
            quote!(::core::option::Option::None)
        } else {
            self.dx_view(i)
        };
        if self.fusion.backward[i] {
            let (ty, mask) = (layer.ty(), self.relu_mask(i));
            return quote! {
                <#ty>::backward_through_relu_sgd(
                    &self.#name, #p, #x, tape.#grad.columns(0, batch), #dx, lr, weight_decay,
                    #mask, &mut tape.sgd_scratch[..],
                );
            };
        }
        quote! {
            #as_layer::backward_sgd(
                &self.#name, #p, #x, tape.#out.columns(0, batch), #cache,
                tape.#grad.columns(0, batch), #dx, lr, weight_decay, &mut tape.sgd_scratch[..],
            );
        }
    }
}

/// Backward, last layer first: dx of layer k is the output gradient of layer k - 1 (of layer
/// k - 2 when a fused ReLU sits between them). A network that starts `Dense`, `Relu`, `Dense`
/// first tries the third layer's kernel that also does the first's gradients
/// (`Dense::backward_through_relu_into_first`), when no input gradient is asked for;
/// `first_done` says whether it ran.
fn emit_backward_into(b: Option<&Body<'_>>) -> TokenStream {
    let body = body(b, |b| {
        let steps = b.layers().iter().enumerate().rev().map(|(i, layer)| {
            b.with_first_pair(i, b.backward_step(i, layer), || {
                let (ty, name, p, g, x, grad) = (
                    layer.ty(),
                    b.names[2],
                    &b.p_names[2],
                    &b.g_names[2],
                    &b.inputs[2],
                    &b.grads[2],
                );
                let (x0, g0, mask) = (&b.inputs[0], &b.g_names[0], &b.masks[1]);
                quote! {
                    !input_grad
                        && <#ty>::backward_through_relu_into_first(
                            &self.#name, #p, #x, tape.#grad.columns(0, batch), #g, #x0, #g0,
                            !overwrite, ::core::option::Option::Some(&tape.#mask),
                        )
                }
            })
        });
        let split_p = b.split("p", quote!(&self.params[..]), Buffer::Params, false);
        let split_g = b.split("g", quote!(grads), Buffer::Params, true);
        let tape_batch = tape_batch();
        quote! {
            if grads.len() != Self::PARAM_COUNT {
                return ::core::result::Result::Err(::constnet::Error::WrongLength {
                    what: ::std::string::String::from("gradient buffer"),
                    expected: Self::PARAM_COUNT,
                    got: grads.len(),
                });
            }
            #tape_batch
            #split_p
            #split_g
            #(#steps)*
            ::core::result::Result::Ok(())
        }
    });
    quote! {
        fn backward_into(
            &self,
            tape: &mut Self::Tape,
            grads: &mut [T],
            input_grad: bool,
            overwrite: bool,
        ) -> ::core::result::Result<(), ::constnet::Error> {
            #body
        }
    }
}

/// Backward with an SGD step in each layer (see `Network::backward_sgd`); as in backward, the
/// first layer's step in the third layer's kernel where it applies.
fn emit_backward_sgd(b: Option<&Body<'_>>) -> TokenStream {
    let body = body(b, |b| {
        let steps = b.layers().iter().enumerate().rev().map(|(i, layer)| {
            b.with_first_pair(i, b.sgd_step(i, layer), || {
                let (ty, name, p, x, grad) = (
                    layer.ty(),
                    b.names[2],
                    &b.p_names[2],
                    &b.inputs[2],
                    &b.grads[2],
                );
                let (x0, p0, mask) = (&b.inputs[0], &b.p_names[0], &b.masks[1]);
                quote! {
                    <#ty>::backward_through_relu_into_first_sgd(
                        &self.#name, #p, #x, tape.#grad.columns(0, batch), #x0, #p0,
                        (lr, weight_decay), ::core::option::Option::Some(&tape.#mask),
                        &mut tape.sgd_scratch[..],
                    )
                }
            })
        });
        let split_p = b.split("p", quote!(&mut self.params[..]), Buffer::Params, true);
        let tape_batch = tape_batch();
        quote! {
            ::constnet::network::check_sgd_rates(lr, weight_decay)?;
            #tape_batch
            #split_p
            #(#steps)*
            ::core::result::Result::Ok(())
        }
    });
    quote! {
        fn backward_sgd(
            &mut self,
            tape: &mut Self::Tape,
            lr: T,
            weight_decay: T,
        ) -> ::core::result::Result<(), ::constnet::Error> {
            #body
        }
    }
}

fn emit_record_kinks(b: Option<&Body<'_>>) -> TokenStream {
    let body = body(b, |b| {
        let records = b.as_layers.iter().enumerate().map(|(i, as_layer)| {
            let (name, p, x) = (b.names[i], &b.p_names[i], &b.inputs[i]);
            quote!(#as_layer::record_kinks(&self.#name, #p, #x, kinks);)
        });
        let split_p = b.split("p", quote!(&self.params[..]), Buffer::Params, false);
        quote! {
            let batch = tape.batch;
            #split_p
            #(#records)*
        }
    });
    quote! {
        fn record_kinks(&self, tape: &Self::Tape, kinks: &mut ::constnet::Kinks) {
            #body
        }
    }
}
