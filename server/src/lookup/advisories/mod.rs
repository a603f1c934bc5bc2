pub mod offline_db;
pub mod osv_api;
