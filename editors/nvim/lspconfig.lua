-- nvim-lspconfig (before it ships a `gatehouse` entry): register Gatehouse as a custom server.
-- Neovim 0.11+ with nvim-lspconfig 2.x can simply use lsp/gatehouse.lua from this folder instead.
local configs = require('lspconfig.configs')
local util = require('lspconfig.util')

if not configs.gatehouse then
  configs.gatehouse = {
    default_config = {
      cmd = { 'gatehouse', 'lsp' },
      filetypes = { 'json', 'jsonc', 'toml', 'yaml', 'requirements', 'text' },
      root_dir = function(fname)
        local name = vim.fs.basename(fname)
        -- pip requirements as the server's walk finds them (`test-requirements.txt`, `requirements/dev.txt`)
        local requirements = (name:match('%.txt$') or name:match('%.in$'))
          and (name:lower():match('requirements') or vim.fs.basename(vim.fs.dirname(fname)):lower() == 'requirements')
        -- Cargo's settings file, whose `[patch]` is checked: `.cargo/config.toml` or `.cargo/config`
        local cargo_config = (name == 'config.toml' or name == 'config')
          and vim.fs.basename(vim.fs.dirname(fname)) == '.cargo'
        local manifest = requirements
          or cargo_config
          or vim.tbl_contains({
            'package.json', 'package-lock.json', 'npm-shrinkwrap.json', 'Cargo.toml', 'Cargo.lock',
            'pyproject.toml', 'poetry.lock', 'uv.lock', 'pylock.toml', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', '.yarnrc.yml', 'yarn.lock', 'bun.lock',
            'gatehouse.toml',
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
