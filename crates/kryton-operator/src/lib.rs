//! Kryton's Kubernetes operator: the `Kryton` custom resource, pure builders of the objects it runs
//! on, a status that tells the truth, and the controller loop.

pub mod builders;
pub mod controller;
pub mod crd;
pub mod http;
pub mod schedule;
pub mod status;
pub mod values;
