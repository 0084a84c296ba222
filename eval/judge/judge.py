import json,re,sys,os,yaml,glob,html,functools
NEWDEL=os.environ.get('NEWDEL')=='1'
# The checkout's root is two folders up; the shared corpus sits beside the checkout
# ($PILMON_SHARED overrides it, as for the Go tests).
ROOT=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
C=os.path.join(os.environ.get('PILMON_SHARED') or os.path.join(os.path.dirname(ROOT),'shared'),'corpus')
RD=os.path.join(ROOT,'rules','data')
inst={i['id']:i for i in yaml.safe_load(open(RD+'/legal_instruments.yaml'))['instruments']}
def cite_ok(b,asof):
    i=inst.get(b['instrument'])
    if not i or i.get('level')!=b['level'] or i['level']=='draft': return False,'unknown instrument or wrong level %s'%b
    d=asof[:10]
    arts=[a for a in i.get('articles',[]) if str(a.get('no',a.get(False,'')))==b['article'] and (not b.get('version') or str(a.get('version',''))==b.get('version'))]
    if not arts: return False,'article %s:%s not in the catalogue'%(b['instrument'],b['article'])
    for a in arts:
        f=(a.get('in_force') or {}).get('from') or i.get('effective') or '0000'
        t=(a.get('in_force') or {}).get('to') or '9999'
        if str(f)<=d<=str(t): return True,''
    return False,'%s:%s not in force at %s'%(b['instrument'],b['article'],d)

@functools.lru_cache(None)
def apk(path):
    from androguard.core.bytecodes.apk import APK
    from androguard.core.bytecodes.dvm import DalvikVMFormat as DEX
    import logging; 
    try:
        from loguru import logger; logger.remove()
    except Exception: pass
    a=APK(path)
    classes=set()
    for d in a.get_all_dex():
        try:
            for c in DEX(d).get_classes_names(): classes.add(c[1:-1].replace('/','.'))
        except Exception: pass
    m=a.get_android_manifest_xml()
    ns='{http://schemas.android.com/apk/res/android}'
    app=m.find('application')
    attr=lambda k: app.get(ns+k) if app is not None else None
    recv={}
    for r in m.iter('receiver'):
        acts=[x.get(ns+'name') for x in r.iter('action')]
        recv[r.get(ns+'name')]=acts
    return dict(perms=set(a.get_permissions()),backup=attr('allowBackup'),debug=attr('debuggable'),clear=attr('usesCleartextTraffic'),
                target=a.get_target_sdk_version(),classes=classes,recv=recv,pkg=a.get_package())

LIBS=('android.support.','androidx.','android.arch.','com.google.android.material.','com.google.android.gms.','kotlin.','kotlinx.','okhttp3.','okio.','com.squareup.','com.google.gson.','com.google.common.','io.reactivex.','rx.','com.bumptech.glide.','org.apache.','org.osmdroid.','com.nostra13.','org.greenrobot.')
def libclass(c): return any(c.startswith(p) for p in LIBS)

@functools.lru_cache(None)
def text_of(path):
    p=os.path.join(C,path)
    if os.path.isdir(p):
        out=[]
        for root,_,fs in os.walk(p):
            for f in fs:
                try: out.append(open(os.path.join(root,f),encoding='utf-8',errors='replace').read())
                except Exception: pass
        return '\n'.join(out)
    b=open(p,'rb').read()
    t=b.decode('utf-8','replace')
    if path.endswith('.html'): t=html.unescape(re.sub(r'<[^>]+>',' ',t))
    return t

# element → wording an attentive reader accepts as the element (broader than pilmon's patterns)
ELEM={
 'effective_date':r'生效|更新日期|更新时间|发布日期|版本日期|最近更新|effective|last updated|updated on|\d{4}年\d{1,2}月\d{1,2}日',
 'contact':r'联系我们|联系方式|邮箱|电子邮件|客服电话|客服热线|@[a-z0-9-]+\.|contact us|e-?mail|write to us|400-?\d',
 'operator_identity':r'有限公司|公司|Corporation|Inc\.|GmbH|Foundation|GitHub, Inc|Mozilla',
 'retention_period':r'保存期限|存储期限|保留期限|保存期|保存.*?(年|期限)|retain|retention|keep .*? (for|until)',
 'update_notice':r'变更|更新.*?(通知|告知|公告)|change[sd]? to (this|our)|notify you|update (this|our)',
 'change_notification':r'变更|更新.*?(通知|告知|公告)|change[sd]? to (this|our)|notify you|update (this|our)|we may (update|change)',
 'separate_consent':r'单独同意|单独授权|单独的同意|单独征得|明示同意|separate consent|explicit consent',
 'sensitive_pi_marked':r'敏感个人信息|敏感信息|sensitive (personal )?(data|information)',
 'account_cancellation':(r'注销|delete (your )?account|clos(e|ing) (your )?account|account (deletion|closure|cancellation)' if NEWDEL else r'注销|删除.*?(账号|账户|个人信息)|delete (your )?(account|data|information)|deletion'),
 'response_time':r'\d+\s*(个)?(工作日|天|日)内|十五|15\s*(天|日|个工作日)|三十天|30\s*(天|日)|within \d+|within (thirty|one month|a month)|one month',
 'user_rights':r'访问|查询|更正|删除|复制|access|correct|delete|rights',
 'complaint_channel':r'投诉|举报|监管部门|complain|supervisory authority|data protection authority|regulator',
 'storage_location':r'存储地|存储于|存放在|境内|境外|中华人民共和国境内|stored (in|on)|located in|United States|transfer.*?(countr|abroad)',
 'withdraw_consent':r'撤回|撤销.*?同意|取消授权|关闭.*?权限|withdraw|revoke|opt[- ]out',
}
def judge(r):
    f=r['finding']; rid=r['rule_id']; inp=r['input']; obs=f['observations']
    v=dict(fact=True,party=True,tier=True,citation=True); why=[]
    # citation
    for b in f['legal_basis']:
        ok,m=cite_ok(b,f['as_of'])
        if not ok: v['citation']=False; why.append(m)
    # tier: static/inferred records must be leads
    if f['grade'] in('static','inferred') and f['tier']=='finding':
        v['tier']=False; why.append('a %s record is a finding'%f['grade'])
    kinds={o['kind'] for o in obs}
    en=f['summary']['en']
    if inp.startswith('apks/'):
        A=apk(os.path.join(C,inp))
        if rid=='pipl-51-allow-backup':
            v['fact']=A['backup'] in ('true',True) or (A['backup'] is None and 'unset' in en); why.append('manifest android:allowBackup=%s%s'%(A['backup'],' (default true, and the summary says so)' if A['backup'] is None and 'unset' in en else ''))
        elif rid=='pipl-51-debuggable':
            v['fact']=A['debug'] in ('true',True); why.append('manifest android:debuggable=%s'%A['debug'])
        elif rid=='pipl-51-cleartext-allowed':
            v['fact']=A['clear'] in('true',True) or (A['clear'] is None and int(A['target'] or 0)<28)
            why.append('usesCleartextTraffic=%s, targetSdk=%s (cleartext is the default below 28)'%(A['clear'],A['target']))
        elif 'apk.sensitive_api' in kinds:
            cls=[o['attributes']['caller_class'] for o in obs if o['kind']=='apk.sensitive_api']
            missing=[c for c in cls if c not in A['classes']]
            v['fact']=not missing; why.append('dex classes %s present'%('all '+str(len(cls)) if not missing else 'missing: '+','.join(missing[:2])))
            own=[o for o in obs if o['kind']=='apk.sensitive_api' and not o['attributes'].get('sdk')]
            libs=[o['attributes']['caller_class'] for o in own if libclass(o['attributes']['caller_class'])]
            if libs and "own code" in en:
                v['party']=False; why.append('library code (%s) called the app\'s own code'%libs[0])
            elif own: why.append('call sites in app packages (%s)'%own[0]['attributes']['caller_class'])
            else: why.append('call sites in the named SDK packages')
        elif 'apk.sdk' in kinds:
            s=[o for o in obs if o['kind']=='apk.sdk'][0]['attributes']
            n=s.get('classes') or 0
            v['fact']=n>0 or bool(s.get('markers')); why.append('SDK %s: %s classes, via %s'%(s.get('sdk'),n,s.get('via')))
        elif 'apk.component' in kinds:
            c=[o for o in obs if o['kind']=='apk.component'][0]['subject']
            acts=A['recv'].get(c) or A['recv'].get(c.replace(A['pkg'],'',1)) or []
            v['fact']=any('BOOT_COMPLETED' in x or 'USER_PRESENT' in x for x in acts); why.append('receiver %s actions %s'%(c,acts[:3]))
        elif 'apk.permission' in kinds:
            ps=[o['subject'] for o in obs if o['kind']=='apk.permission']
            miss=[p for p in ps if p not in A['perms']]
            v['fact']=not miss; why.append('manifest requests %s'%(', '.join(p.split('.')[-1] for p in ps)) if not miss else 'not in manifest: %s'%miss)
        elif rid=='rdff-1.1':
            why.append('no policy was given and the APK holds no policy link; a lead to look on a phone')
        else:
            why.append('unchecked kind %s'%kinds)
    elif inp.startswith('miniprograms/'):
        T=text_of(inp)
        if kinds & {'mp.api_call'}:
            apis=sorted({o['attributes']['api'] for o in obs if o['kind']=='mp.api_call'})
            miss=[a for a in apis if a.replace(':','.').split('.',1)[-1] not in T]
            v['fact']=not miss; why.append('%s found in the package JS'%','.join(apis) if not miss else 'absent: %s'%miss)
            sd=[o['attributes'].get('sdk') for o in obs if o['kind']=='mp.api_call']
            if all(sd) and ('The mini-program code calls' in en):
                v['party']=False; why.append('every call site is in %s code, yet the program\'s own code is named'%sd[0])
            elif all(sd): why.append('names SDK %s, whose module holds the calls'%sd[0])
            else: why.append('call sites in the program\'s own pages')
            if rid=='mp-undeclared-private-api' and 'requiredPrivateInfos' in T and re.search(r'requiredPrivateInfos[^\]]*'+re.escape(apis[0].split('.')[-1]),T):
                v['fact']=False; why.append('declared in requiredPrivateInfos')
        elif 'mp.privacy_config' in kinds:
            v['fact']='__usePrivacyCheck__' not in T; why.append('__usePrivacyCheck__ %s in app.json/app-config'%('absent' if v['fact'] else 'present'))
        elif 'mp.domain' in kinds:
            h=obs[0]['subject']; v['fact']=('http://'+h) in T; why.append('literal http://%s %s'%(h,'present' if v['fact'] else 'absent'))
        elif 'mp.sdk' in kinds:
            s=obs[0]['attributes']; why.append('SDK %s recognised in %s'%(s.get('sdk'),s.get('file')))
            mk=[m for m in (s.get('markers') or [])]
            if s.get('sdk')=='wechat_opensdk':
                v['fact']=False; why.append('the WeChat platform API (wx.*) is not an embedded SDK that collects identifiers')
        elif rid=='rdff-1.1':
            why.append('no policy was given and the package holds no privacy guide link; a lead')
        else: why.append('unchecked %s'%kinds)
    elif inp.startswith('policies/'):
        T=text_of(inp)
        if 'policy.element' in kinds:
            el=obs[0]['subject']
            pat=ELEM.get(el)
            m=re.search(pat,T,re.I) if pat else None
            if m:
                ctx=T[max(0,m.start()-15):m.end()+15].replace('\n',' ')
                v['fact']=False; why.append('text has wording on %s: "%s"'%(el,ctx.strip()))
            else: why.append('read for %s: no such wording in the text'%el)
        elif 'policy.separate_consent' in kinds:
            pat=ELEM['separate_consent']
            m=re.search(pat,T,re.I)
            if m: why.append('separate-consent wording exists ("%s") but not tied to this PI; lead stands'%m.group(0))
            else: why.append('no separate-consent wording anywhere in the text')
        elif rid=='rdff-1.1':
            n=len(re.sub(r'\s','',T)); why.append('document of %d chars with no collection rules'%n)
            v['fact']= n<3000 or 'cookie' in inp
        else: why.append('unchecked %s'%kinds)
    return v,'; '.join(why)

# Hand reading of the hits of the broad patterns above: True = the wording found is not the element
# (pilmon was right), False = it is the element (pilmon missed it).
READ={
 ('ca4p483_0611','contact'):(True,'the e-mail/phone mentioned is what users register with, not a contact of the handler'),
 ('ca4p483_0611','complaint_channel'):(True,'"百度举报" reports content; no complaint channel for PI'),
 ('ca4p483_0733','effective_date'):(True,'"产生效力" is no date'),
 ('mozilla_firefox_privacy_notice.zh','sensitive_pi_marked'):(True,'"敏感信息（如消息或密码）" is not a marking of sensitive PI'),
 ('github_cookies','user_rights'):(True,'"Deleted when" is a cookie lifetime, not a rights mechanism'),
 ('github_cookies','withdraw_consent'):(True,'an opt-out cookie of a vendor is not a way to withdraw consent given to GitHub'),
 ('github_cookies','response_time'):(True,'"One month" is a cookie lifetime'),
 ('mozilla_common_voice','contact'):(True,'"Your email address" is the user\'s, no contact of the handler'),
 ('mozilla_common_voice','user_rights'):(True,'"accessible" concerns data visibility, no rights mechanism'),
 ('mozilla_firefox_privacy_notice.en','sensitive_pi_marked'):(True,'"sensitive information, such as messages" is no marking of sensitive PI'),
 ('mozilla_firefox_relay','contact'):(True,'"primary email address" is the user\'s'),
 ('mozilla_firefox_relay','user_rights'):(True,'"delete it after" is retention, not a rights mechanism'),
 ('mozilla_focus','response_time'):(True,'"within 24 hours" is a deletion delay of telemetry, not a response period'),
 ('mozilla_thunderbird','sensitive_pi_marked'):(True,'"Sensitive data" of crash reports is no marking of sensitive PI with necessity and impact'),
 ('ca4p483_0611','sensitive_pi_marked'):(True,'"可能被认为是敏感个人信息" gives examples of what may be sensitive; no PI is marked with necessity and impact'),
 ('ca4p483_0733','sensitive_pi_marked'):(True,'the "有关敏感个人信息的提示" section speaks of sensitive PI in general and marks none with its necessity and impact'),
 ('ca4p483_0733','contact'):(True,'refers to contact details "published" elsewhere; the policy gives none'),
 ('mozilla_common_voice','operator_identity'):(True,'"Mozilla (that\'s us)" names no legal entity (Mozilla Corporation/Foundation)'),
 ('mozilla_firefox_relay','operator_identity'):(True,'refers to the Mozilla Privacy Policy; names no legal entity'),
 ('mozilla_subscription_services','operator_identity'):(True,'"Mozilla Subscription Services" is a product name, no legal entity'),
 ('mozilla_websites','operator_identity'):(True,'"Mozilla (that\'s us)" names no legal entity'),
 ('mozilla_thunderbird','storage_location'):(True,'"stored on our servers" names no place'),
}
def reread(r,v,why):
    if r['input'].startswith('policies/') and not v['fact']:
        el=r['finding']['observations'][0]['subject']
        for (k,e),(ok,reason) in READ.items():
            if k in r['input'] and e==el:
                v['fact']=ok; why=('read: '+reason) if ok else why
    if r['rule_id']=='rdff-1.1' and r['subject']=='policy:not_privacy_policy':
        T=text_of(r['input'])
        rules_found=re.search(r'收集.{0,20}(信息|个人信息)|collect',T)
        v['fact']=not rules_found
        why='the document %s rules on collecting PI'%('has' if rules_found else 'has no')
    return v,why

if __name__=='__main__':
    out=[]
    for l in open(sys.argv[1]):
        r=json.loads(l)
        v,why=judge(r)
        v,why=reread(r,v,why)
        rec={k:r[k] for k in('input','sha256','rule_id','subject','family','tier','grade')}
        if rec['family']=='other': rec['family']='policy'
        rec['verdict']=v; rec['reason']=why
        out.append(rec)
    for rec in out: print(json.dumps(rec,ensure_ascii=False))
