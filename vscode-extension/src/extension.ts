import * as fs from 'fs';
import * as os from 'os';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
} from 'vscode-languageclient/node';
import { discoverServer, Environment, Found } from './discover';
import { affectsServer, serverSettings, withWorkspaceTrust, ServerSettings } from './settings';
import { GatehouseStatus, parseStatus, statusView } from './status';

const SECTION = 'gatehouse';

/** Files the server understands; the extension activates on the same set. */
export const DOCUMENT_PATTERNS = [
  '**/package.json',
  '**/package-lock.json',
  '**/npm-shrinkwrap.json',
  '**/Cargo.toml',
  '**/Cargo.lock',
  // pip requirements as the server's walk finds them: `requirements` anywhere in the name
  // (`test-requirements.txt`), pip-tools sources, and every file of a `requirements/` folder.
  '**/*requirements*.txt',
  '**/*requirements*.in',
  '**/requirements/*.txt',
  '**/requirements/*.in',
  '**/pyproject.toml',
  '**/poetry.lock',
  '**/uv.lock',
  '**/pylock.toml',
  '**/pnpm-lock.yaml',
  '**/pnpm-workspace.yaml',
  '**/.yarnrc.yml',
  '**/.cargo/config.toml',
  '**/.cargo/config',
  '**/yarn.lock',
  '**/bun.lock',
  '**/gatehouse.toml',
];

/** What `activate` returns; the editor tests use it. */
export interface GatehouseApi {
  readonly client: LanguageClient | undefined;
  readonly lastStatus: GatehouseStatus | undefined;
  readonly statusText: string;
  /** The settings object the server is sent for `scope` (explicitly set values only). */
  settingsFor(scope?: vscode.Uri): ServerSettings;
  /** Resolves once the client is running (or rejects when it could not start). */
  ready: Promise<void>;
}

let client: LanguageClient | undefined;
let output: vscode.OutputChannel;
let statusItem: vscode.StatusBarItem;
let lastStatus: GatehouseStatus | undefined;
let endProgress: (() => void) | undefined;
let reportProgress: ((message: string) => void) | undefined;

function settingsFor(scope?: vscode.Uri): ServerSettings {
  const folder = scope ?? vscode.workspace.workspaceFolders?.[0]?.uri;
  const config = vscode.workspace.getConfiguration(SECTION, folder);
  // Workspace trust decides whether the server honours the machine-trust keys (endpoints, cache-dir,
  // offline, osv-db, trusted-root) of the project's own gatehouse.toml.
  // The workspace's own values of every setting reach the server only once the workspace is trusted.
  const trusted = vscode.workspace.isTrusted;
  return withWorkspaceTrust(serverSettings((key) => config.inspect(key), trusted), trusted);
}

function nodeEnvironment(): Environment {
  return {
    platform: process.platform,
    arch: process.arch,
    pathEnv: process.env.PATH ?? '',
    pathExt: process.env.PATHEXT,
    home: os.homedir(),
    isExecutable(file: string): boolean {
      try {
        const stat = fs.statSync(file);
        if (!stat.isFile()) {
          return false;
        }
        if (process.platform !== 'win32') {
          fs.accessSync(file, fs.constants.X_OK);
        }
        return true;
      } catch {
        return false;
      }
    },
  };
}

function findServer(context: vscode.ExtensionContext): Found {
  const configured = vscode.workspace.getConfiguration(SECTION).get<string>('path');
  const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  return discoverServer(configured, context.extensionPath, nodeEnvironment(), root);
}

async function reportMissing(context: vscode.ExtensionContext, found: Extract<Found, { kind: 'missing' }>): Promise<void> {
  const why = found.badSetting
    ? `The gatehouse.path setting points to "${found.badSetting}", which is not an executable file.`
    : 'No gatehouse binary was found: none is bundled for this platform and none is on PATH.';
  output.appendLine(`${why} Tried: ${found.tried.join(', ')}`);
  const install = 'Install instructions';
  const settings = 'Set gatehouse.path';
  const choice = await vscode.window.showErrorMessage(`Gatehouse: ${why}`, install, settings);
  if (choice === install) {
    const readme = vscode.Uri.joinPath(context.extensionUri, 'README.md').with({ fragment: 'install' });
    await vscode.commands.executeCommand('markdown.showPreview', readme);
  } else if (choice === settings) {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'gatehouse.path');
  }
}

function showStatus(status: GatehouseStatus): void {
  lastStatus = status;
  const view = statusView(status);
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.backgroundColor =
    view.tone === 'error'
      ? new vscode.ThemeColor('statusBarItem.errorBackground')
      : view.tone === 'warning'
        ? new vscode.ThemeColor('statusBarItem.warningBackground')
        : undefined;
  statusItem.show();
  // Work-done progress in the window while lookups run (in addition to any the server reports).
  if (view.busy) {
    const message = view.text.replace(/^\$\([^)]*\)\s*Gatehouse:\s*/, '');
    if (!endProgress) {
      void vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'Gatehouse' },
        (progress) =>
          new Promise<void>((resolve) => {
            reportProgress = (m) => progress.report({ message: m });
            endProgress = resolve;
            reportProgress(message);
          }),
      );
    } else {
      reportProgress?.(message);
    }
  } else if (endProgress) {
    endProgress();
    endProgress = undefined;
    reportProgress = undefined;
  }
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  const found = findServer(context);
  if (found.kind === 'missing') {
    statusItem.text = '$(error) Gatehouse: no server';
    statusItem.tooltip = 'The gatehouse binary was not found. Click for the output log.';
    statusItem.show();
    void reportMissing(context, found);
    throw new Error(`gatehouse binary not found (tried ${found.tried.join(', ')})`);
  }
  output.appendLine(`Starting ${found.command} lsp (found via ${found.kind})`);

  const serverOptions: ServerOptions = {
    command: found.command,
    args: ['lsp'],
    options: { env: { ...process.env } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: DOCUMENT_PATTERNS.map((pattern) => ({ scheme: 'file', pattern })),
    outputChannel: output,
    initializationOptions: settingsFor(),
    middleware: {
      workspace: {
        // Answer `workspace/configuration` for our section with explicitly set values only.
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          if (!Array.isArray(result)) {
            return result;
          }
          return params.items.map((item, i) => {
            if (item.section === SECTION) {
              return settingsFor(item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined);
            }
            return result[i];
          });
        },
      },
    },
  };

  client = new LanguageClient(SECTION, 'Gatehouse', serverOptions, clientOptions);
  client.onDidChangeState((e) => {
    if (e.newState === State.Stopped) {
      statusItem.text = '$(circle-slash) Gatehouse: stopped';
      statusItem.tooltip = 'The Gatehouse server stopped. Click for the output log.';
      endProgress?.();
      endProgress = undefined;
    }
  });
  statusItem.text = '$(sync~spin) Gatehouse: starting';
  statusItem.tooltip = 'Starting the Gatehouse server.';
  statusItem.show();
  await client.start();
  client.onNotification('gatehouse/status', (params: unknown) => showStatus(parseStatus(params)));
  if (!lastStatus) {
    statusItem.text = '$(shield) Gatehouse';
    statusItem.tooltip = 'Gatehouse is running.';
  }
}

async function stopClient(): Promise<void> {
  const running = client;
  client = undefined;
  if (running) {
    await running.stop();
  }
}

async function serverCommand(command: string): Promise<void> {
  if (!client) {
    void vscode.window.showWarningMessage('Gatehouse: the server is not running.');
    return;
  }
  await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [] });
}

async function openConfig(): Promise<void> {
  const found = await vscode.workspace.findFiles('**/gatehouse.toml', '**/node_modules/**', 20);
  let target: vscode.Uri | undefined;
  if (found.length === 1) {
    target = found[0];
  } else if (found.length > 1) {
    const pick = await vscode.window.showQuickPick(
      found.map((uri) => ({ label: vscode.workspace.asRelativePath(uri), uri })),
      { placeHolder: 'Which gatehouse.toml?' },
    );
    target = pick?.uri;
    if (!target) {
      return;
    }
  } else {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (!folder) {
      void vscode.window.showWarningMessage('Gatehouse: open a folder to create a gatehouse.toml.');
      return;
    }
    target = vscode.Uri.joinPath(folder.uri, 'gatehouse.toml');
    const create = 'Create';
    const choice = await vscode.window.showInformationMessage(
      'Gatehouse: this workspace has no gatehouse.toml. Create one?',
      create,
    );
    if (choice !== create) {
      return;
    }
    await vscode.workspace.fs.writeFile(
      target,
      Buffer.from('# Gatehouse settings for this project (keys: see the Gatehouse README)\n# offline = false\n\n[policy]\n# min-version-age = "72h"\n'),
    );
  }
  await vscode.window.showTextDocument(target);
}

export async function activate(context: vscode.ExtensionContext): Promise<GatehouseApi> {
  output = vscode.window.createOutputChannel('Gatehouse');
  statusItem = vscode.window.createStatusBarItem('gatehouse.status', vscode.StatusBarAlignment.Left, 10);
  statusItem.name = 'Gatehouse';
  statusItem.command = 'workbench.actions.view.problems';
  context.subscriptions.push(output, statusItem);

  context.subscriptions.push(
    vscode.commands.registerCommand('gatehouse.recheckWorkspace', () => serverCommand('gatehouse.recheck')),
    vscode.commands.registerCommand('gatehouse.clearLookupCache', () => serverCommand('gatehouse.clearCache')),
    vscode.commands.registerCommand('gatehouse.showOutput', () => output.show(true)),
    vscode.commands.registerCommand('gatehouse.openConfig', openConfig),
    vscode.commands.registerCommand('gatehouse.restartServer', async () => {
      await stopClient();
      await startClient(context);
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(async () => {
      if (client) {
        output.appendLine('Workspace trusted: the project gatehouse.toml now applies in full');
        await client.sendNotification(DidChangeConfigurationNotification.type, {
          settings: { [SECTION]: settingsFor() },
        });
      }
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration('gatehouse.path')) {
        output.appendLine('gatehouse.path changed: restarting the server');
        await stopClient();
        await startClient(context).catch((err) => output.appendLine(String(err)));
        return;
      }
      if (client && affectsServer((section) => event.affectsConfiguration(section))) {
        const settings = settingsFor();
        output.appendLine(`Settings changed: sending ${JSON.stringify(settings)}`);
        await client.sendNotification(DidChangeConfigurationNotification.type, {
          settings: { [SECTION]: settings },
        });
      }
    }),
    { dispose: () => void stopClient() },
  );

  const ready = startClient(context).catch((err: unknown) => {
    output.appendLine(`Gatehouse did not start: ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  });
  ready.catch(() => undefined);

  return {
    get client() {
      return client;
    },
    get lastStatus() {
      return lastStatus;
    },
    get statusText() {
      return statusItem.text;
    },
    settingsFor,
    ready,
  };
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
