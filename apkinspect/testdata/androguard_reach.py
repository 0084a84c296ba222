"""Independent check of pilmon's reachability with androguard's cross-references.

Reads a JSON request on stdin:
  {"apk": path, "edges": [[caller, callee, kind, via], ...], "apis": [descriptor, ...]}
where descriptors are "Lpkg/Cls;->name(args)ret" and kind is call | virtual | clinit | bridge |
reflect (pilmon's edge kinds). Writes a JSON answer on stdout:
  {"edges": [{"ok": bool, "why": str}], "app_start_sites": [caller descriptor, ...]}

An edge is confirmed from androguard's own cross-references (androguard records an invoke on the
method exactly as the instruction names it, without resolving it up the class hierarchy):
  call     the callee, or the same method named on a subclass of the callee's class, has the
           caller in get_xref_from();
  virtual  the method the caller invokes (via) has the caller in get_xref_from(), and the
           callee's class extends or implements via's class, or is a superclass of a class that
           does (the receiver's class inherits the callee);
  clinit   the caller instantiates, calls a static method of, or reads/writes a static field of
           the callee's class or a subclass, or is itself the initialiser of a subclass;
  bridge   the caller instantiates (get_xref_new_instance) the callee's class or a subclass;
  reflect  the caller loads the callee's method name as a string constant.

app_start_sites is androguard's own count: a breadth-first search over get_xref_to() from the
Application's <init>/attachBaseContext/onCreate and every provider's <init>/attachInfo/onCreate
(and their <clinit>), following only methods the APK defines, exactly as named (no class
hierarchy analysis, no hand-off bridging); the reached methods that call one of "apis".
"""
import json
import logging
import sys

logging.disable(logging.CRITICAL)
try:
    from loguru import logger
    logger.remove()
except Exception:
    pass

from androguard.misc import AnalyzeAPK


def norm(s):
    if isinstance(s, bytes):
        s = s.decode("utf-8", "replace")
    return str(s).replace(" ", "")


def key(ma):
    return norm(ma.class_name), norm(ma.name), norm(ma.descriptor)


def split(desc):
    cls, rest = desc.split("->", 1)
    i = rest.index("(")
    return cls, rest[:i], rest[i:]


def main():
    req = json.load(sys.stdin)
    a, d, dx = AnalyzeAPK(req["apk"])
    methods = {}
    for ma in dx.get_methods():
        methods[key(ma)] = ma
    supers = {}
    for ca in dx.get_classes():
        if ca.is_external():
            continue
        ups = [norm(ca.extends)] + [norm(i) for i in (ca.implements or [])]
        supers[norm(ca.name)] = ups

    def subtype(sub, sup, depth=0):
        if sub == sup:
            return True
        if depth > 512:
            return False
        return any(subtype(u, sup, depth + 1) for u in supers.get(sub, []))

    def callers(ma):
        return {key(m) for _, m, _ in ma.get_xref_from()}

    def check(caller, callee, kind, via):
        ck = split(caller)
        ccls, cname, cproto = split(callee)
        cm = methods.get(ck)
        if cm is None:
            return False, "caller not in androguard's methods"
        if kind == "call":
            for (mc, mn, mp), ma in methods.items():
                if mn == cname and mp == cproto and subtype(mc, ccls) and ck in callers(ma):
                    return True, "xref_from of " + mc + "->" + mn
            return False, "no xref_from of " + cname + " on " + ccls + " or a subclass"
        if kind == "virtual":
            vm = methods.get(split(via))
            if vm is None or ck not in callers(vm):
                return False, "no xref_from of " + via
            vcls = split(via)[0]
            if subtype(ccls, vcls):
                return True, "xref_from of " + via + "; " + ccls + " extends it"
            if subtype(vcls, ccls):
                return True, "xref_from of " + via + "; " + vcls + " inherits the method from " + ccls
            for s in supers:
                if subtype(s, vcls) and subtype(s, ccls):
                    return True, "xref_from of " + via + "; " + s + " extends " + vcls + " and inherits the method from " + ccls
            return False, "no class between " + vcls + " and " + ccls
        if kind == "bridge":
            for ca, _ in cm.get_xref_new_instance():
                if subtype(norm(ca.name), ccls):
                    return True, "new-instance " + norm(ca.name)
            return False, "caller instantiates no subtype of " + ccls
        if kind == "clinit":
            if ck[1] == "<clinit>" and subtype(ck[0], ccls):
                return True, "initialiser of a subclass"
            for ca, _ in cm.get_xref_new_instance():
                if subtype(norm(ca.name), ccls):
                    return True, "new-instance " + norm(ca.name)
            for ca, ma, _ in cm.get_xref_to():
                if subtype(norm(ca.name), ccls):
                    return True, "call on " + norm(ca.name)
            for fa in dx.get_fields():
                fcls = norm(fa.field.get_class_name())
                if not subtype(fcls, ccls):
                    continue
                for _, m in list(fa.get_xref_read()) + list(fa.get_xref_write()):
                    if key(m) == ck:
                        return True, "field of " + fcls
            return False, "caller touches no subtype of " + ccls
        if kind == "reflect":
            for s in dx.get_strings():
                if norm(s.get_value()) in (cname, ccls[1:-1].replace("/", ".")):
                    if ck in {key(m) for _, m in s.get_xref_from()}:
                        return True, "const-string " + norm(s.get_value())
            return False, "caller loads no string naming " + cname
        return False, "unknown edge kind " + kind

    out = {"edges": []}
    for caller, callee, kind, via in req["edges"]:
        ok, why = check(caller, callee, kind, via)
        out["edges"].append({"ok": ok, "why": why})

    # androguard's own breadth-first search from the start-up roots.
    pkg = a.get_package()

    def qualify(n):
        if not n:
            return None
        if n.startswith("."):
            n = pkg + n
        elif "." not in n:
            n = pkg + "." + n
        return "L" + n.replace(".", "/") + ";"

    roots = []
    app = qualify(a.get_attribute_value("application", "name"))
    if app:
        roots += [(app, n) for n in ("<init>", "attachBaseContext", "onCreate", "<clinit>")]
    for p in a.get_providers():
        c = qualify(p)
        roots += [(c, n) for n in ("<init>", "attachInfo", "onCreate", "<clinit>")]
    seen = set()
    queue = []
    for (mc, mn, mp), ma in methods.items():
        if (mc, mn) in roots and not ma.is_external():
            seen.add((mc, mn, mp))
            queue.append(ma)
    apis = set(req["apis"])
    sites = set()
    while queue:
        ma = queue.pop(0)
        for _, t, _ in ma.get_xref_to():
            tk = key(t)
            if tk[0] + "->" + tk[1] + tk[2] in apis:
                sites.add(key(ma)[0] + "->" + key(ma)[1] + key(ma)[2])
            if not t.is_external() and tk not in seen:
                seen.add(tk)
                queue.append(t)
    out["app_start_sites"] = sorted(sites)
    json.dump(out, sys.stdout)


main()
