-- nvim-lspconfig (before it ships a `gatehouse` entry): register Gatehouse as a custom server.
-- Neovim 0.11+ with nvim-lspconfig 2.x can simply use lsp/gatehouse.lua from this folder instead.
local configs = require('lspconfig.configs')
local util = require('lspconfig.util')

if not configs.gatehouse then
  configs.gatehouse = {
    default_config = {
      cmd = { 'gatehouse', 'lsp' },
      filetypes = { 'json', 'toml', 'requirements', 'text' },
      root_dir = function(fname)
        local name = vim.fs.basename(fname)
        local manifest = name:match('^requirements.*%.txt$')
          or vim.tbl_contains({
            'package.json', 'package-lock.json', 'npm-shrinkwrap.json', 'Cargo.toml', 'Cargo.lock',
            'pyproject.toml', 'poetry.lock', 'uv.lock', 'gatehouse.toml',
          }, name)
        if not manifest then
          return nil -- do not attach to other JSON/TOML files
        end
        return util.root_pattern('gatehouse.toml', '.git')(fname) or vim.fs.dirname(fname)
      end,
      settings = { gatehouse = vim.empty_dict() },
    },
  }
end
require('lspconfig').gatehouse.setup({})
