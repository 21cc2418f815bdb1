//! dialogpay
