//! Print the `Kryton` CRD as YAML: `cargo run -p kryton-operator --bin crdgen > deploy/kryton-crds.yaml`.

fn main() -> anyhow::Result<()> {
    print!("{}", kryton_operator::crd::crd_yaml()?);
    Ok(())
}
