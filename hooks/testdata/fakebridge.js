// A stand-in for Frida's Java bridge, File and Process, enough to run pilmon's generated hook
// script under node and drive it through a session: start-up, a read at start-up by an SDK, the
// consent click, a read by the app, a filtered call that is not a catalogued read, a refusal, the
// app going to the background and a read there. It checks the script's logic, not Frida itself:
// usage `node fakebridge.js SCRIPT OUTDIR [redact]`; the JSONL the script wrote is in OUTDIR.
'use strict';
const fs = require('fs');
const vm = require('vm');
const crypto = require('crypto');

const [scriptPath, outDir] = process.argv.slice(2);

let clock = 1765072800000; // 2025-12-07T02:00:00Z
let currentStack = [];
let app = null;

function stackText() {
  return 'java.lang.Exception\n' + currentStack.map((f) => '\tat ' + f).join('\n');
}

// One fake method: its overloads, each with a real body the hook can call through.
function makeMethod(cls, name) {
  const overloads = new Map();
  const m = {
    get overloads() {
      if (overloads.size === 0) m.overload();
      return Array.from(overloads.values());
    },
    overload(...types) {
      const key = types.join(',');
      if (!overloads.has(key)) {
        const ov = {
          key, implementation: null,
          body: function () { return cls.returns[name] !== undefined ? cls.returns[name] : null; },
          apply(self, args) { return ov.body.apply(self, args); },
          call(self, ...args) { return ov.body.apply(self, args); },
        };
        overloads.set(key, ov);
      }
      return overloads.get(key);
    },
    invoke(self, args, types) {
      const list = m.overloads;
      const ov = (types !== undefined && overloads.get(types.join(','))) || list[0];
      return ov.implementation ? ov.implementation.apply(self, args) : ov.body.apply(self, args);
    },
  };
  return m;
}

const classes = new Map();
function fakeClass(name) {
  if (!classes.has(name)) {
    const cls = { name, returns: {}, methods: new Map() };
    cls.proxy = new Proxy({}, {
      get(_, prop) {
        if (typeof prop !== 'string') return undefined;
        if (statics[name] && prop in statics[name]) return statics[name][prop];
        if (prop === 'class') return { isInstance: (v) => v !== null && v.isTextView === true };
        if (prop === '$new') return (...a) => ({ $className: name, args: a });
        if (!cls.methods.has(prop)) cls.methods.set(prop, makeMethod(cls, prop));
        return cls.methods.get(prop);
      },
    });
    classes.set(name, cls);
  }
  return classes.get(name);
}

const statics = {
  'android.os.Build': { MANUFACTURER: { value: 'Google' }, MODEL: { value: 'Pixel 6' } },
  'android.app.ActivityThread': {
    currentApplication: () => app,
    currentPackageName: () => 'com.example.shop',
  },
  'android.util.Log': { getStackTraceString: () => stackText() },
  'java.lang.Thread': { currentThread: () => ({ getName: () => 'main' }) },
  'java.security.MessageDigest': {
    getInstance: () => ({
      digest: (bytes) => Array.from(crypto.createHash('sha256').update(Buffer.from(bytes)).digest()).map((b) => (b > 127 ? b - 256 : b)),
    }),
  },
  'java.lang.String': { $new: (s) => ({ getBytes: () => Array.from(Buffer.from(s, 'utf8')) }) },
};

const loadedClassLoader = { name: 'app-loader' };
const Java = {
  perform: (fn) => fn(),
  use(name) {
    // Framework classes exist from the start; the app's own and its SDKs' only in its class
    // loader, after the app is bound; com.absent.* never.
    const framework = name.startsWith('android.') || name.startsWith('java.');
    if (!framework && (Java.classFactory.loader !== loadedClassLoader || name.startsWith('com.absent.') || name.startsWith('com.amap.'))) {
      throw new Error('java.lang.ClassNotFoundException: Didn\'t find class "' + name + '"');
    }
    return fakeClass(name).proxy;
  },
  cast: (v) => v,
  classFactory: { loader: null },
};

class File {
  constructor(path, mode) {
    if (mode !== 'a') throw new Error('unexpected mode ' + mode);
    this.path = path;
  }
  write(s) { fs.appendFileSync(this.path, s); }
  flush() { }
  close() { }
}

const sandbox = {
  Java, File, console,
  Process: { getCurrentThreadId: () => 1 },
  Date: { now: () => clock },
  JSON, String, Error, Array, Object, RegExp,
};
vm.createContext(sandbox);
vm.runInContext(fs.readFileSync(scriptPath, 'utf8'), sandbox, { filename: 'pilmon-hooks.js' });

function call(cls, method, args, types, self) {
  clock += 100;
  return fakeClass(cls).methods.get(method) ? fakeClass(cls).proxy[method].invoke(self || {}, args, types) : undefined;
}
function view(label, isTextView) {
  return { isTextView, getText: () => label, getContentDescription: () => (isTextView ? null : label), getClass: () => ({ getName: () => (isTextView ? 'android.widget.Button' : 'android.view.View') }) };
}
function activity(name) { return { getClass: () => ({ getName: () => name }) }; }

// 1. Start-up: an SDK reads the IMEI before any activity is shown (before the log file exists:
//    the line is buffered).
fakeClass('android.telephony.TelephonyManager').returns.getDeviceId = '867530912345678';
currentStack = [
  'android.telephony.TelephonyManager.getDeviceId(Native Method)',
  'com.umeng.commonsdk.statistics.common.DeviceConfig.getImei(DeviceConfig.java:120)',
  'com.example.shop.App.onCreate(App.java:30)',
];
call('android.telephony.TelephonyManager', 'getDeviceId', [], []);
// 2. The app is bound: the log file opens, SDK hooks are retried with the app's class loader.
app = {
  getFilesDir: () => ({ getAbsolutePath: () => outDir }),
  getClassLoader: () => loadedClassLoader,
};
call('android.app.Application', 'onCreate', [], [], app);
call('android.app.Activity', 'onStart', [], [], activity('com.example.shop.SplashActivity'));
// 3. Settings.Secure.getString for another key is not a catalogued read; for android_id it is.
fakeClass('android.provider.Settings$Secure').returns.getString = 'a1b2c3d4e5f60718';
currentStack = ['android.provider.Settings$Secure.getString(Settings.java:5000)', 'com.example.shop.Util.id(Util.java:9)'];
call('android.provider.Settings$Secure', 'getString', [{ $className: 'android.content.ContentResolver', toString: () => 'resolver' }, 'enabled_notification_listeners'],
  ['android.content.ContentResolver', 'java.lang.String']);
call('android.provider.Settings$Secure', 'getString', [{ $className: 'android.content.ContentResolver', toString: () => 'resolver' }, 'android_id'],
  ['android.content.ContentResolver', 'java.lang.String']);
// 4. A long paragraph containing 同意 is not a button; the 同意 button is consent.
call('android.view.View', 'performClick', [], [], view('请您仔细阅读隐私政策，点击同意即表示您已阅读并同意全部条款内容', true));
call('android.view.View', 'performClick', [], [], view('同意', true));
// 5. After consent the app reads contacts (content URI filter) and a URI that is not contacts.
currentStack = ['android.content.ContentResolver.query(ContentResolver.java:1)', 'com.example.shop.Invite.load(Invite.java:44)'];
call('android.content.ContentResolver', 'query', ['content://com.android.contacts/data/phones', null, null, null, null]);
call('android.content.ContentResolver', 'query', ['content://com.example.shop.provider/items', null, null, null, null]);
// 5b. Asking for its own package info is not probing other apps; asking for another's is.
currentStack = ['android.app.ApplicationPackageManager.getPackageInfo(ApplicationPackageManager.java:1)', 'com.example.shop.Version.get(Version.java:3)'];
call('android.app.ApplicationPackageManager', 'getPackageInfo', ['com.example.shop', 0]);
call('android.app.ApplicationPackageManager', 'getPackageInfo', ['com.tencent.mm', 0]);
// 6. 不同意 is a refusal, not a consent.
call('android.view.View', 'performClick', [], [], view('不同意', true));
// 7. The app goes to the background, then an SDK reads the location.
call('android.app.Activity', 'onStop', [], [], activity('com.example.shop.SplashActivity'));
fakeClass('android.location.LocationManager').returns.getLastKnownLocation = 'Location[gps 31.2304,121.4737]';
currentStack = ['android.location.LocationManager.getLastKnownLocation(LocationManager.java:1)', 'com.baidu.location.LocationClient.a(Unknown Source)'];
call('android.location.LocationManager', 'getLastKnownLocation', ['gps'], ['java.lang.String']);
