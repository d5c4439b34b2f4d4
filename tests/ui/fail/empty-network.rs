// A network without layers.
constnet::network! {
    struct Empty {}
}

fn main() {}
