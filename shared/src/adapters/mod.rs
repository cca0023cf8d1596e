//! Implementations of the ports.

pub mod dynamodb;
pub mod memory;
pub mod mercadopago;
pub mod secrets;
pub mod sns;
pub mod system;
