//! Implementations of the ports.

pub mod memory;
pub mod mercadopago;
pub mod system;
