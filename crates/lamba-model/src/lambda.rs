use std::fmt;
use std::str::FromStr;

use crate::{Instant, LambdaId};

/// The four kinds of lambda, each called through one JavaScript function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LambdaType {
    JwtPopulate,
    OpenIdReconcile,
    Samlv2Reconcile,
    Samlv2Populate,
}

impl LambdaType {
    pub const ALL: [LambdaType; 4] = [
        LambdaType::JwtPopulate,
        LambdaType::OpenIdReconcile,
        LambdaType::Samlv2Reconcile,
        LambdaType::Samlv2Populate,
    ];

    /// The name used on the wire and in storage (FusionAuth's spelling).
    pub const fn as_str(self) -> &'static str {
        match self {
            LambdaType::JwtPopulate => "JWTPopulate",
            LambdaType::OpenIdReconcile => "OpenIDReconcile",
            LambdaType::Samlv2Reconcile => "SAMLv2Reconcile",
            LambdaType::Samlv2Populate => "SAMLv2Populate",
        }
    }

    /// The global function a body of this type must define.
    pub const fn function_name(self) -> &'static str {
        match self {
            LambdaType::JwtPopulate | LambdaType::Samlv2Populate => "populate",
            LambdaType::OpenIdReconcile | LambdaType::Samlv2Reconcile => "reconcile",
        }
    }
}

impl fmt::Display for LambdaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown lambda type {0:?}")]
pub struct UnknownLambdaType(pub String);

impl FromStr for LambdaType {
    type Err = UnknownLambdaType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LambdaType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownLambdaType(s.to_owned()))
    }
}

/// A user-defined JavaScript function run by the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lambda {
    pub id: LambdaId,
    pub name: String,
    pub lambda_type: LambdaType,
    pub body: String,
    pub debug: bool,
    pub enabled: bool,
    pub insert_instant: Instant,
    pub last_update_instant: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip() {
        for t in LambdaType::ALL {
            assert_eq!(t.as_str().parse::<LambdaType>().unwrap(), t);
        }
        assert!("jwtpopulate".parse::<LambdaType>().is_err());
    }
}
